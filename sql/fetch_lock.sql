-- One run at a time per tweet, held by the session from the first page to the
-- write (no transaction stays open meanwhile); fetch_unlock.sql releases it, and
-- a session that dies releases it with itself. Same key as fetch_try_lock.sql.
SELECT pg_try_advisory_lock(hashtextextended('retweetctl.fetch:' || %(tweet_id)s::text, 0))
