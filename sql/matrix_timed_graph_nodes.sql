-- One side (%(side)s: 'author' or 'retweeter') of the cells matrix_timed_cells_fill.sql
-- kept, by id, with their totals over those cells.
SELECT g.id, u.username, g.total
FROM (
    SELECT CASE WHEN %(side)s = 'author' THEN author_id ELSE retweeter_id END AS id,
           sum(n) AS total
    FROM matrix_timed_cells
    GROUP BY 1
) AS g
LEFT JOIN users AS u ON u.id = g.id
ORDER BY g.id
