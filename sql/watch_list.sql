-- The coverage per watched tweet: rows held against what the API last reported, and the
-- time of the newest retweet held (NULL when no held row has a time).
SELECT w.tweet_id,
       w.author_id,
       u.username,
       w.added_at,
       w.last_checked_at,
       h.held,
       w.retweet_count,
       w.complete_retweet_count IS NOT NULL AS complete,
       w.last_added,
       w.status,
       h.newest_retweet_at
FROM watched_tweets w
LEFT JOIN users u ON u.id = w.author_id
CROSS JOIN LATERAL (
    SELECT count(*) AS held, max(r.retweeted_at) AS newest_retweet_at
    FROM retweets r
    WHERE r.tweet_id = w.tweet_id
) h
ORDER BY w.added_at, w.tweet_id
