-- After deletions from `retweets`: drop the cells and totals that reached zero.
-- A scan, but only catch-ups that applied a deletion run it.
WITH cells AS (
    DELETE FROM retweet_cells WHERE n = 0 RETURNING 1
), authors AS (
    DELETE FROM retweet_author_totals WHERE total = 0 RETURNING 1
), retweeters AS (
    DELETE FROM retweet_retweeter_totals WHERE total = 0 RETURNING 1
)
SELECT
    (SELECT count(*) FROM cells),
    (SELECT count(*) FROM authors),
    (SELECT count(*) FROM retweeters)
