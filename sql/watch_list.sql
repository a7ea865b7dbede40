-- The coverage per watched tweet: rows held against what the API last reported.
-- The counts come from one grouped query over the watched tweets' rows, not a
-- subquery per watched tweet: Citus runs no correlated subquery over a distributed
-- retweets, and PostgreSQL plans this as the same primary-key probes.
WITH held AS (
    SELECT tweet_id, count(*) AS held
    FROM retweets
    WHERE tweet_id IN (SELECT tweet_id FROM watched_tweets)
    GROUP BY tweet_id
)
SELECT w.tweet_id,
       w.author_id,
       u.username,
       w.added_at,
       w.last_checked_at,
       coalesce(h.held, 0) AS held,
       w.retweet_count,
       w.complete_retweet_count IS NOT NULL AS complete,
       w.last_added,
       w.status
FROM watched_tweets w
LEFT JOIN users u ON u.id = w.author_id
LEFT JOIN held h ON h.tweet_id = w.tweet_id
ORDER BY w.added_at, w.tweet_id
