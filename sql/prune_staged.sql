-- Drop the batch's staged rows that retweets already holds, so the merge's
-- INSERT … ON CONFLICT only sees rows that are (almost all) new. Run for big
-- batches only, planned as a hash join: one pass over retweets instead of one
-- primary-key probe per staged row.
DELETE FROM retweet_staging s
USING retweets r
WHERE s.batch_id = %(batch_id)s
  AND r.tweet_id = s.tweet_id
  AND r.retweeter_id = s.retweeter_id
