-- One side (%(side)s: 'author' or 'retweeter') of the edges matrix_timed_edges.sql
-- keeps, by id, with their totals: grouped from `retweets`, like those edges.
SELECT g.id, u.username, g.total
FROM (
    SELECT CASE WHEN %(side)s = 'author' THEN author_id ELSE retweeter_id END AS id,
           sum(n) AS total
    FROM (
        SELECT retweeter_id, author_id, count(*) AS n
        FROM retweets
        WHERE (NOT %(windowed)s
               OR (retweeted_at >= %(since)s::timestamptz AND retweeted_at < %(until)s::timestamptz))
          AND (%(authors)s::bigint[] IS NULL OR author_id = ANY(%(authors)s::bigint[]))
          AND (%(retweeters)s::bigint[] IS NULL OR retweeter_id = ANY(%(retweeters)s::bigint[]))
        GROUP BY retweeter_id, author_id
        HAVING count(*) >= %(min_count)s
    ) AS cells
    GROUP BY 1
) AS g
LEFT JOIN users AS u ON u.id = g.id
ORDER BY g.id
