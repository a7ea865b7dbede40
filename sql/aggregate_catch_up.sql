-- Fold the pending deltas into the cells and totals, in one sorted batch: all of them,
-- or ({range} set) those stored in a range of pages of the deltas table (a TID range scan).
-- The caller holds the catch-up advisory lock, so deltas are taken exactly once
-- and the upserts never race; keys go in sorted order all the same.
-- `xmax = 0` in RETURNING marks a row the upsert inserted rather than updated.
WITH taken AS (
    DELETE FROM retweet_cell_deltas
    {range}
    RETURNING retweeter_id, author_id, n
), changes AS (
    SELECT retweeter_id, author_id, sum(n) AS n
    FROM taken
    GROUP BY retweeter_id, author_id
    HAVING sum(n) <> 0
), cells AS (
    INSERT INTO retweet_cells AS c (retweeter_id, author_id, n)
    SELECT retweeter_id, author_id, n FROM changes ORDER BY retweeter_id, author_id
    ON CONFLICT (retweeter_id, author_id) DO UPDATE SET n = c.n + EXCLUDED.n
    RETURNING (c.xmax = 0) AS created
), authors AS (
    INSERT INTO retweet_author_totals AS t (author_id, total)
    SELECT author_id, sum(n) FROM changes GROUP BY author_id ORDER BY author_id
    ON CONFLICT (author_id) DO UPDATE SET total = t.total + EXCLUDED.total
    RETURNING (t.xmax = 0) AS created
), retweeters AS (
    INSERT INTO retweet_retweeter_totals AS t (retweeter_id, total)
    SELECT retweeter_id, sum(n) FROM changes GROUP BY retweeter_id ORDER BY retweeter_id
    ON CONFLICT (retweeter_id) DO UPDATE SET total = t.total + EXCLUDED.total
    RETURNING (t.xmax = 0) AS created
)
SELECT
    (SELECT count(*) FROM taken) AS deltas,
    (SELECT count(*) FROM cells WHERE created) AS new_cells,
    (SELECT count(*) FROM authors WHERE created) AS new_authors,
    (SELECT count(*) FROM retweeters WHERE created) AS new_retweeters,
    (SELECT count(*) FROM changes WHERE n < 0) AS decreased
