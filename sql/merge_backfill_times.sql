-- A stored retweet without a time takes the time (and the retweet's own id) this
-- batch brings for it. Only rows stored with retweeted_at NULL are written; the
-- merge runs this only for batches that carry times, after merge_staged.sql, so a
-- row inserted without a time by the same batch (a repeat) is filled as well.
-- Repeats within the batch are one retweet: any of their times is the time.
UPDATE retweets r
SET retweeted_at = s.retweeted_at,
    retweet_id = coalesce(s.retweet_id, r.retweet_id)
FROM retweet_staging s
WHERE s.batch_id = %(batch_id)s
  AND s.retweeted_at IS NOT NULL
  AND r.tweet_id = s.tweet_id
  AND r.retweeter_id = s.retweeter_id
  AND r.retweeted_at IS NULL
