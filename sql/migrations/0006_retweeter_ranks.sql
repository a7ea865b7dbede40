-- Catch-up at the cost of the work: retweeter totals updated in place (HOT).
--
-- A catch-up after a load updates the total of most retweeters it touches (728,000
-- of them after a 1M-row load into a 10M-row table). While `total` was indexed by the
-- rank index, each such update was a non-HOT update: a new heap tuple plus an entry in
-- both indexes, about 9 s of the 16 s that catch-up took (bench/bench_matrix.py; README
-- "How it works"). Readers only ever need the first few thousand retweeters in rank
-- order: the rank lives in a small table of the top RANKED_RETWEETERS (retweetctl/
-- aggregate.py) instead, kept by the catch-up, and `total` is indexed nowhere, so an
-- update with room on its page stays HOT (fillfactor 80 leaves that room).

DROP INDEX retweet_retweeter_totals_rank_idx;
ALTER TABLE retweet_retweeter_totals SET (fillfactor = 80);
-- Rewrite the rows stored so far into pages with that room (no-op on an empty table).
CLUSTER retweet_retweeter_totals USING retweet_retweeter_totals_pkey;

-- The first RANKED_RETWEETERS retweeters by (total DESC, retweeter_id): all of them
-- when there are fewer. `db check` compares it with the totals.
CREATE TABLE retweet_retweeter_ranks (
    retweeter_id bigint PRIMARY KEY,
    total        bigint NOT NULL
);
CREATE INDEX retweet_retweeter_ranks_rank_idx
    ON retweet_retweeter_ranks (total DESC, retweeter_id);

-- 10000 is aggregate.RANKED_RETWEETERS (a test checks they agree).
INSERT INTO retweet_retweeter_ranks (retweeter_id, total)
SELECT retweeter_id, total FROM retweet_retweeter_totals
ORDER BY total DESC, retweeter_id
LIMIT 10000;

CREATE OR REPLACE FUNCTION retweet_aggregate_on_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE retweet_cell_deltas, retweet_cells, retweet_author_totals, retweet_retweeter_totals,
        retweet_retweeter_ranks;
    UPDATE retweet_aggregate_sizes SET authors = 0, retweeters = 0, cells = 0;
    RETURN NULL;
END
$$;

-- CREATE OR REPLACE resets the function's settings: pin its search_path to the schema
-- the tables live in, as 0004 and 0005 do.
DO $$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION retweet_aggregate_on_truncate() SET search_path = %I', current_schema()
    );
END
$$;
