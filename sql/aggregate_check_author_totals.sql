WITH fresh AS (
    SELECT author_id, count(*) AS total FROM retweets GROUP BY author_id
)
SELECT author_id, t.total AS aggregate, f.total AS fresh, count(*) OVER () AS differences
FROM retweet_author_totals AS t
FULL JOIN fresh AS f USING (author_id)
WHERE t.total IS DISTINCT FROM f.total
ORDER BY author_id
LIMIT %(limit)s
