-- What this check learned about a watched tweet (no row: the tweet is not watched).
-- complete_retweet_count NULL marks an incomplete check, so the next run asks again.
UPDATE watched_tweets
SET author_id = coalesce(%(author_id)s, author_id),
    last_checked_at = now(),
    retweet_count = coalesce(%(retweet_count)s, retweet_count),
    complete_retweet_count = %(complete_retweet_count)s,
    last_added = %(added)s,
    status = %(status)s
WHERE tweet_id = %(tweet_id)s
