"""retweetctl: who retweets whom, kept exactly in PostgreSQL."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("retweetctl")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
