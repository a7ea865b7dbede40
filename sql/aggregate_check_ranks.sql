-- The ranked retweeters next to the first N (`ranked`) by a fresh count over retweets.
WITH fresh AS (
    SELECT retweeter_id, count(*) AS total FROM retweets GROUP BY retweeter_id
    ORDER BY total DESC, retweeter_id
    LIMIT %(ranked)s
)
SELECT retweeter_id, r.total AS aggregate, f.total AS fresh, count(*) OVER () AS differences
FROM retweet_retweeter_ranks AS r
FULL JOIN fresh AS f USING (retweeter_id)
WHERE r.total IS DISTINCT FROM f.total
ORDER BY retweeter_id
LIMIT %(limit)s
