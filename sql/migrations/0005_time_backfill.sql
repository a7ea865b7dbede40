-- A retweet stored without a time gets it when a later fetch or load brings one
-- (sql/merge_backfill_times.sql): an UPDATE of retweet_id and retweeted_at only.
-- The aggregate's update trigger wrote a -1 and a +1 delta per updated row, even when
-- neither retweeter_id nor author_id changed: a backfill of a million rows would have
-- queued two million deltas that cancel out. Net the old and new rows per cell instead,
-- so such an UPDATE queues nothing. (A column list, `AFTER UPDATE OF author_id, …`,
-- would be simpler, but PostgreSQL allows no transition tables on such triggers.)
CREATE OR REPLACE FUNCTION retweet_deltas_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO retweet_cell_deltas (retweeter_id, author_id, n)
    SELECT retweeter_id, author_id, sum(n)
    FROM (SELECT retweeter_id, author_id, -1 AS n FROM old_rows
          UNION ALL
          SELECT retweeter_id, author_id, 1 FROM new_rows) AS changed
    GROUP BY retweeter_id, author_id
    HAVING sum(n) <> 0;
    RETURN NULL;
END
$$;

-- CREATE OR REPLACE resets the function's settings: pin its search_path to the schema
-- the tables live in, as 0004 does for every aggregate trigger function.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION retweet_deltas_on_update() SET search_path = %I', current_schema());
END
$$;
