-- The author of a tweet a retweeted_by page names: watched, or already stored.
SELECT author_id FROM watched_tweets
WHERE tweet_id = %(tweet_id)s AND author_id IS NOT NULL
UNION ALL
(SELECT author_id FROM retweets WHERE tweet_id = %(tweet_id)s LIMIT 1)
LIMIT 1
