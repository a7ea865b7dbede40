-- One run at a time per tweet; held until the tweet's transaction ends.
-- Namespaced by hashing, so it cannot collide with other advisory locks.
SELECT pg_try_advisory_xact_lock(hashtextextended('retweetctl.fetch:' || %(tweet_id)s::text, 0))
