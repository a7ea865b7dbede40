-- Totals over the filtered cells; `everyone` counts all ranked authors before LIMIT.
SELECT author_id, sum(n) AS total, count(*) OVER () AS everyone
FROM matrix_filtered
GROUP BY author_id
ORDER BY total DESC, author_id
LIMIT %(limit)s
