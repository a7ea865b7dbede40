-- Cells that differ from a fresh GROUP BY over retweets (missing on either side included).
WITH fresh AS (
    SELECT retweeter_id, author_id, count(*) AS n
    FROM retweets
    GROUP BY retweeter_id, author_id
)
SELECT retweeter_id, author_id, c.n AS aggregate, f.n AS fresh, count(*) OVER () AS differences
FROM retweet_cells AS c
FULL JOIN fresh AS f USING (retweeter_id, author_id)
WHERE c.n IS DISTINCT FROM f.n
ORDER BY retweeter_id, author_id
LIMIT %(limit)s
