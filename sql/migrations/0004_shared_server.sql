-- Staging keyed by batch: a merge reads and deletes only its own batch's rows.
-- Without this index, a 100-row merge scanned every row other sessions had
-- staged (uncommitted rows of a 10M-row load in flight included): 4.6 ms idle,
-- 620-770 ms beside 5M staged rows. Batch ids come from one sequence, so each
-- batch appends to the right edge of the index and deduplication keeps it small
-- (`make bench`: bulk COPY + merge within noise of the unindexed table; see
-- README "Performance"). An index, not a temporary table per session: staging
-- stays one table that Citus can distribute by tweet_id beside retweets.
CREATE INDEX IF NOT EXISTS retweet_staging_batch_id_idx ON retweet_staging (batch_id);
