-- Adding a tweet already watched keeps its history; a marked one becomes active again.
INSERT INTO watched_tweets (tweet_id)
VALUES (%(tweet_id)s)
ON CONFLICT (tweet_id) DO UPDATE SET status = 'active'
RETURNING (xmax = 0) AS inserted
