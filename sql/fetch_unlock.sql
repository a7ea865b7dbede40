SELECT pg_advisory_unlock(hashtextextended('retweetctl.fetch:' || %(tweet_id)s::text, 0))
