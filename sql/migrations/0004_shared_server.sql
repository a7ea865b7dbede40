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

-- Own schema. The runner created this schema (retweetctl unless configured), made
-- it this transaction's search_path and moved an installation from `public` into
-- it (sql/migrate_move_to_schema.sql) before this file. The aggregate's trigger
-- functions name their tables unqualified: pin their search_path to the schema,
-- so a write through any session (a user's psql without our search_path, a
-- schema-qualified DELETE) still finds them.
DO $$
DECLARE
    routine text;
BEGIN
    FOREACH routine IN ARRAY ARRAY[
        'retweet_deltas_on_insert', 'retweet_deltas_on_delete',
        'retweet_deltas_on_update', 'retweet_aggregate_on_truncate'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %I() SET search_path = %I', routine, current_schema());
    END LOOP;
END
$$;
