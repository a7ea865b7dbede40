-- Feed the primary key in key order: index inserts are most of a merge's cost.
INSERT INTO retweets (tweet_id, retweeter_id, author_id, retweet_id, retweeted_at, author_from_mention)
SELECT tweet_id, retweeter_id, author_id, retweet_id, retweeted_at, author_from_mention
FROM retweet_staging
WHERE batch_id = %(batch_id)s
ORDER BY tweet_id, retweeter_id
ON CONFLICT (tweet_id, retweeter_id) DO NOTHING
