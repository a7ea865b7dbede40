-- One side of the graph (%(side)s: 'author' or 'retweeter'): those with at least one
-- cell the filters keep, by id, with their total over those cells; grouped from the
-- cells (the edges export reads them all anyway).
SELECT g.id, u.username, g.total
FROM (
    SELECT CASE WHEN %(side)s = 'author' THEN author_id ELSE retweeter_id END AS id,
           sum(n) AS total
    FROM retweet_cells
    WHERE (%(authors)s::bigint[] IS NULL OR author_id = ANY(%(authors)s::bigint[]))
      AND (%(retweeters)s::bigint[] IS NULL OR retweeter_id = ANY(%(retweeters)s::bigint[]))
      AND n >= %(min_count)s
    GROUP BY 1
) AS g
LEFT JOIN users AS u ON u.id = g.id
ORDER BY g.id
