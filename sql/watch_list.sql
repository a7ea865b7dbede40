-- The coverage per watched tweet: rows held against what the API last reported.
SELECT w.tweet_id,
       w.author_id,
       u.username,
       w.added_at,
       w.last_checked_at,
       (SELECT count(*) FROM retweets r WHERE r.tweet_id = w.tweet_id) AS held,
       w.retweet_count,
       w.complete_retweet_count IS NOT NULL AS complete,
       w.last_added,
       w.status
FROM watched_tweets w
LEFT JOIN users u ON u.id = w.author_id
ORDER BY w.added_at, w.tweet_id
