-- Fold changes into the cells, the totals and the retweeter ranks, in one sorted batch.
-- The CTE `changes` (retweeter_id, author_id, n, deltas) is either the pending deltas
-- taken and summed here (aggregate_changes_taken.sql), or a range of the changes a
-- large catch-up took first (aggregate_changes_range.sql). A change that nets to zero
-- counts its deltas and writes nothing. The `authors` parameter: whether to fold the
-- author totals too (a chunked catch-up folds them once, at its end).
-- The caller holds the catch-up advisory lock, so deltas are taken exactly once
-- and the upserts never race; keys go in sorted order all the same.
-- `xmax = 0` in RETURNING marks a row the upsert inserted rather than updated.
WITH {changes},
cells AS (
    INSERT INTO retweet_cells AS c (retweeter_id, author_id, n)
    SELECT retweeter_id, author_id, n FROM changes WHERE n <> 0 ORDER BY retweeter_id, author_id
    ON CONFLICT (retweeter_id, author_id) DO UPDATE SET n = c.n + EXCLUDED.n
    RETURNING (c.xmax = 0) AS created
), authors AS (
    INSERT INTO retweet_author_totals AS t (author_id, total)
    SELECT author_id, sum(n) FROM changes WHERE %(authors)s AND n <> 0
    GROUP BY author_id ORDER BY author_id
    ON CONFLICT (author_id) DO UPDATE SET total = t.total + EXCLUDED.total
    RETURNING (t.xmax = 0) AS created
), retweeters AS (
    -- `total` is indexed nowhere (migration 0006): with room on the page, a HOT update.
    INSERT INTO retweet_retweeter_totals AS t (retweeter_id, total)
    SELECT retweeter_id, sum(n) FROM changes WHERE n <> 0
    GROUP BY retweeter_id ORDER BY retweeter_id
    ON CONFLICT (retweeter_id) DO UPDATE SET total = t.total + EXCLUDED.total
    RETURNING t.retweeter_id, t.total, (t.xmax = 0) AS created
), last_ranked AS (
    -- The ranks hold the first N (`ranked`) retweeters, all of them while there are
    -- fewer (`ranks_full` false): the last is a backward step on the rank index.
    SELECT total, retweeter_id FROM retweet_retweeter_ranks
    WHERE %(ranks_full)s
    ORDER BY total, retweeter_id DESC
    LIMIT 1
), ranked AS (
    -- With no total lower than before, the first N are among those ranked already and
    -- those changed now: a changed retweeter that ranks before the last ranked one (or
    -- any, while fewer are ranked) enters or moves up; the caller then trims the ranks
    -- back to N (aggregate_ranks_trim.sql). A catch-up that lowers a total ranks
    -- them all again instead (aggregate_ranks_fill.sql).
    INSERT INTO retweet_retweeter_ranks AS r (retweeter_id, total)
    SELECT retweeter_id, total FROM retweeters
    WHERE NOT %(ranks_full)s
       OR (total, -retweeter_id) > (SELECT total, -retweeter_id FROM last_ranked)
    ORDER BY total DESC, retweeter_id
    LIMIT %(ranked)s
    ON CONFLICT (retweeter_id) DO UPDATE SET total = EXCLUDED.total
    RETURNING (r.xmax = 0) AS created
)
SELECT
    (SELECT coalesce(sum(deltas), 0) FROM changes) AS deltas,
    (SELECT count(*) FROM cells WHERE created) AS new_cells,
    (SELECT count(*) FROM authors WHERE created) AS new_authors,
    (SELECT count(*) FROM retweeters WHERE created) AS new_retweeters,
    (SELECT count(*) FROM changes WHERE n < 0) AS decreased,
    (SELECT count(*) FROM ranked WHERE created) AS newly_ranked
