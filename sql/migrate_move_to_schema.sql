-- Migration 0004, first half: move an installation made before it from `public`
-- into retweetctl's own schema (the transaction's current_schema()). SET SCHEMA
-- moves a table with its rows, indexes, constraints, triggers and owned
-- sequences, rewriting nothing: no row is lost and it takes no longer for 100M
-- rows than for none. Tables of later migrations are skipped when absent.
DO $$
DECLARE
    target text := current_schema();
    relation text;
    routine text;
BEGIN
    FOREACH relation IN ARRAY ARRAY[
        'schema_migrations', 'retweets', 'users', 'watched_tweets', 'fetch_runs',
        'retweet_staging', 'retweet_staging_batch_seq', 'retweet_cell_deltas', 'retweet_cells',
        'retweet_author_totals', 'retweet_retweeter_totals', 'retweet_aggregate_sizes'
    ] LOOP
        IF to_regclass(format('public.%I', relation)) IS NOT NULL THEN
            -- ALTER TABLE also moves a sequence that no column owns.
            EXECUTE format('ALTER TABLE public.%I SET SCHEMA %I', relation, target);
        END IF;
    END LOOP;
    FOREACH routine IN ARRAY ARRAY[
        'retweet_deltas_on_insert', 'retweet_deltas_on_delete',
        'retweet_deltas_on_update', 'retweet_aggregate_on_truncate'
    ] LOOP
        IF to_regprocedure(format('public.%I()', routine)) IS NOT NULL THEN
            EXECUTE format('ALTER FUNCTION public.%I() SET SCHEMA %I', routine, target);
        END IF;
    END LOOP;
END
$$
