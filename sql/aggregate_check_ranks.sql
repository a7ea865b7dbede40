-- The ranked retweeters next to the first N (`ranked`) of the totals (which the totals'
-- own check compares with retweets): a top-N sort of the totals, not another GROUP BY.
WITH expected AS (
    SELECT retweeter_id, total FROM retweet_retweeter_totals
    ORDER BY total DESC, retweeter_id
    LIMIT %(ranked)s
)
SELECT retweeter_id, r.total AS aggregate, e.total AS fresh, count(*) OVER () AS differences
FROM retweet_retweeter_ranks AS r
FULL JOIN expected AS e USING (retweeter_id)
WHERE r.total IS DISTINCT FROM e.total
ORDER BY retweeter_id
LIMIT %(limit)s
