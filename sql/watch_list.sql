-- The coverage per watched tweet: rows held against what the API last reported, and
-- the time of the newest retweet held (NULL when no held row has a time).
-- The counts come from one grouped query over the watched tweets' rows, not a
-- subquery per watched tweet: Citus runs no correlated subquery over a distributed
-- retweets, and PostgreSQL plans this as the same primary-key probes.
WITH held AS (
    SELECT tweet_id, count(*) AS held, max(retweeted_at) AS newest_retweet_at,
           min(author_id) AS author_id
    FROM retweets
    WHERE tweet_id IN (SELECT tweet_id FROM watched_tweets)
    GROUP BY tweet_id
)
SELECT w.tweet_id,
       -- a tweet watched after it was fetched or loaded: its author from the rows held
       coalesce(w.author_id, h.author_id) AS author_id,
       u.username,
       w.added_at,
       w.last_checked_at,
       coalesce(h.held, 0) AS held,
       w.retweet_count,
       w.complete_retweet_count IS NOT NULL AS complete,
       w.last_added,
       w.status,
       h.newest_retweet_at
FROM watched_tweets w
LEFT JOIN held h ON h.tweet_id = w.tweet_id
LEFT JOIN users u ON u.id = coalesce(w.author_id, h.author_id)
ORDER BY w.added_at, w.tweet_id
