-- Drop the batch's staged rows that retweets already holds, so the merge's
-- INSERT … ON CONFLICT only sees rows that are (almost all) new. Run for big
-- batches only, planned as a hash join: one pass over retweets instead of one
-- primary-key probe per staged row. A staged row that brings the time of a row
-- stored without one stays, for merge_backfill_times.sql. Returns how many of the
-- dropped rows carried a time (the merge then knows how many timed rows are left).
WITH pruned AS (
    DELETE FROM retweet_staging s
    USING retweets r
    WHERE s.batch_id = %(batch_id)s
      AND r.tweet_id = s.tweet_id
      AND r.retweeter_id = s.retweeter_id
      AND (s.retweeted_at IS NULL OR r.retweeted_at IS NOT NULL)
    RETURNING s.retweeted_at
)
SELECT count(retweeted_at) FROM pruned
