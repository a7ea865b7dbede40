-- The edges of a timed graph export: the cells matrix_timed_cells_fill.sql kept, with
-- usernames, in (retweeter, author) order.
SELECT c.retweeter_id, r.username, c.author_id, a.username, c.n, c.first_at, c.last_at
FROM matrix_timed_cells AS c
LEFT JOIN users AS r ON r.id = c.retweeter_id
LEFT JOIN users AS a ON a.id = c.author_id
ORDER BY c.retweeter_id, c.author_id
