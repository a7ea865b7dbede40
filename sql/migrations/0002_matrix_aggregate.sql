-- The author-by-retweeter aggregate, so `matrix` costs what the cells cost, not what the rows cost.
--
-- Maintenance is lazy: statement-level triggers append every row that really
-- changed `retweets` (the transition table of an INSERT … ON CONFLICT DO NOTHING
-- holds only the rows inserted) to the append-only `retweet_cell_deltas`, in the
-- writer's own transaction; `aggregate_catch_up.sql` folds the deltas into the
-- cells and totals in one sorted batch, one catch-up at a time. Appending is a
-- heap insert with no index, so a merge pays little; cells + pending deltas
-- equal a GROUP BY over `retweets` in every snapshot, whoever writes and however
-- a run dies.

CREATE TABLE retweet_cell_deltas (
    retweeter_id bigint  NOT NULL,
    author_id    bigint  NOT NULL,
    n            integer NOT NULL  -- +1 per row inserted, -1 per row deleted
);
-- A catch-up deletes every row; vacuum soon after, so the dead pages do not
-- slow the "anything pending?" probe every `matrix` makes (vacuum also hands
-- the emptied pages back).
ALTER TABLE retweet_cell_deltas SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 10000
);

-- One row per (retweeter, author) pair with n > 0: the sparse matrix. n = 0 exists
-- only inside a catch-up that applies deletions, which removes those rows before
-- commit. No CHECK (n > 0): ON CONFLICT checks the proposed row, and a deletion
-- proposes a negative one; `retweetctl db check` verifies the counts instead.
CREATE TABLE retweet_cells (
    retweeter_id bigint NOT NULL,
    author_id    bigint NOT NULL,
    n            bigint NOT NULL,
    PRIMARY KEY (retweeter_id, author_id)
) WITH (fillfactor = 90);  -- room on each page, so a count's update stays HOT
-- No index on author_id: every index is paid by every new cell at catch-up,
-- and only `--author` filters would use it (they scan the cells instead).

-- Row and column totals indexed by total: the top-N is an index scan of N entries.
CREATE TABLE retweet_author_totals (
    author_id bigint PRIMARY KEY,
    total     bigint NOT NULL
);
CREATE INDEX retweet_author_totals_rank_idx ON retweet_author_totals (total DESC, author_id);

CREATE TABLE retweet_retweeter_totals (
    retweeter_id bigint PRIMARY KEY,
    total        bigint NOT NULL
);
CREATE INDEX retweet_retweeter_totals_rank_idx
    ON retweet_retweeter_totals (total DESC, retweeter_id);

-- How many authors, retweeters and cells the aggregate holds (count(*) over
-- millions of retweeters would cost more than the whole top-N).
CREATE TABLE retweet_aggregate_sizes (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    authors    bigint NOT NULL,
    retweeters bigint NOT NULL,
    cells      bigint NOT NULL
);

CREATE FUNCTION retweet_deltas_on_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO retweet_cell_deltas (retweeter_id, author_id, n)
    SELECT retweeter_id, author_id, 1 FROM inserted_rows;
    RETURN NULL;
END
$$;

CREATE FUNCTION retweet_deltas_on_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO retweet_cell_deltas (retweeter_id, author_id, n)
    SELECT retweeter_id, author_id, -1 FROM deleted_rows;
    RETURN NULL;
END
$$;

CREATE FUNCTION retweet_deltas_on_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO retweet_cell_deltas (retweeter_id, author_id, n)
    SELECT retweeter_id, author_id, -1 FROM old_rows
    UNION ALL
    SELECT retweeter_id, author_id, 1 FROM new_rows;
    RETURN NULL;
END
$$;

CREATE FUNCTION retweet_aggregate_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE retweet_cell_deltas, retweet_cells, retweet_author_totals, retweet_retweeter_totals;
    UPDATE retweet_aggregate_sizes SET authors = 0, retweeters = 0, cells = 0;
    RETURN NULL;
END
$$;

-- PostgreSQL allows transition tables only on single-event triggers: one per event.
CREATE TRIGGER retweets_aggregate_insert AFTER INSERT ON retweets
    REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION retweet_deltas_on_insert();
CREATE TRIGGER retweets_aggregate_delete AFTER DELETE ON retweets
    REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION retweet_deltas_on_delete();
CREATE TRIGGER retweets_aggregate_update AFTER UPDATE ON retweets
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION retweet_deltas_on_update();
CREATE TRIGGER retweets_aggregate_truncate AFTER TRUNCATE ON retweets
    FOR EACH STATEMENT EXECUTE FUNCTION retweet_aggregate_on_truncate();

-- Rows stored before this migration: the aggregate starts equal to a GROUP BY.
INSERT INTO retweet_cells (retweeter_id, author_id, n)
SELECT retweeter_id, author_id, count(*) FROM retweets GROUP BY retweeter_id, author_id;
INSERT INTO retweet_author_totals (author_id, total)
SELECT author_id, sum(n) FROM retweet_cells GROUP BY author_id;
INSERT INTO retweet_retweeter_totals (retweeter_id, total)
SELECT retweeter_id, sum(n) FROM retweet_cells GROUP BY retweeter_id;
INSERT INTO retweet_aggregate_sizes (authors, retweeters, cells)
SELECT (SELECT count(*) FROM retweet_author_totals),
       (SELECT count(*) FROM retweet_retweeter_totals),
       (SELECT count(*) FROM retweet_cells);
