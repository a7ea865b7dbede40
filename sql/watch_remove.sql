-- The tweet's retweets stay in retweets: removing stops future checks only.
DELETE FROM watched_tweets WHERE tweet_id = ANY(%(ids)s) RETURNING tweet_id
