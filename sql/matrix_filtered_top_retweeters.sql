SELECT retweeter_id, sum(n) AS total, count(*) OVER () AS everyone
FROM matrix_filtered
GROUP BY retweeter_id
ORDER BY total DESC, retweeter_id
LIMIT %(limit)s
