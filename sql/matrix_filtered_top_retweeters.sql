-- Retweeters ranked by their retweets of the chosen authors (NULL: every author kept),
-- then their total over the kept cells, then id; only those who retweeted a chosen
-- author. `everyone` counts every retweeter the filters keep, before that and LIMIT.
SELECT retweeter_id, total, everyone
FROM (
    SELECT retweeter_id,
           sum(n) AS total,
           CASE WHEN %(authors)s::bigint[] IS NULL THEN sum(n)
                ELSE coalesce(sum(n) FILTER (WHERE author_id = ANY(%(authors)s::bigint[])), 0)
           END AS within,
           count(*) OVER () AS everyone
    FROM matrix_filtered
    GROUP BY retweeter_id
) AS ranked
WHERE within > 0
ORDER BY within DESC, total DESC, retweeter_id
LIMIT %(limit)s
