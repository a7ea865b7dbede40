WITH fresh AS (
    SELECT retweeter_id, count(*) AS total FROM retweets GROUP BY retweeter_id
)
SELECT retweeter_id, t.total AS aggregate, f.total AS fresh, count(*) OVER () AS differences
FROM retweet_retweeter_totals AS t
FULL JOIN fresh AS f USING (retweeter_id)
WHERE t.total IS DISTINCT FROM f.total
ORDER BY retweeter_id
LIMIT %(limit)s
