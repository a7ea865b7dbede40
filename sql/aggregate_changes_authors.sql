-- The author totals of a chunked catch-up, once for all its changes (per chunk, each of
-- 10 chunks would update most authors again). Returns how many authors are new.
WITH authors AS (
    INSERT INTO retweet_author_totals AS t (author_id, total)
    SELECT author_id, sum(n) FROM retweet_catch_up_changes WHERE n <> 0
    GROUP BY author_id ORDER BY author_id
    ON CONFLICT (author_id) DO UPDATE SET total = t.total + EXCLUDED.total
    RETURNING (t.xmax = 0) AS created
)
SELECT count(*) FROM authors WHERE created
