-- Every watched tweet, stalest first: a run stopped by the rate limit
-- leaves the rest at the head of the queue for the next run.
SELECT tweet_id
FROM watched_tweets
ORDER BY last_checked_at NULLS FIRST, tweet_id
