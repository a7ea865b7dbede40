-- Staging keyed by batch: a small merge reads and deletes only its own rows.
-- Without this index, a 100-row merge scanned every row other sessions had
-- staged (uncommitted rows of a load in flight included): 4.6 ms idle, 620-770
-- ms beside 5M staged rows. Partial: small batches (fetch) take positive batch
-- ids and are indexed; bulk batches (load) take negative ids and pay no index
-- upkeep, their merge scanning staging as before (ingest.StagingBatch). Batch
-- ids come from one sequence, so entries append at the right edge. An index,
-- not a temporary table per session: staging stays one table that Citus can
-- distribute by tweet_id beside retweets. Figures: README "Performance".
CREATE INDEX IF NOT EXISTS retweet_staging_batch_id_idx ON retweet_staging (batch_id)
    WHERE batch_id > 0;

