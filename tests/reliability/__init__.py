"""Reliability and security: what cron, the network and users will do to retweetctl (issue 7)."""
