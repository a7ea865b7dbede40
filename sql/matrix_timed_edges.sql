-- Every edge the filters (and the time window, if `windowed`) keep, with the first and
-- last retweet time where known: a GROUP BY over `retweets`, which alone holds times,
-- streamed through a server-side cursor in (retweeter, author) order.
SELECT g.retweeter_id, r.username, g.author_id, a.username, g.n, g.first_at, g.last_at
FROM (
    SELECT retweeter_id, author_id, count(*) AS n,
           min(retweeted_at) AS first_at, max(retweeted_at) AS last_at
    FROM retweets
    WHERE (NOT %(windowed)s
           OR (retweeted_at >= %(since)s::timestamptz AND retweeted_at < %(until)s::timestamptz))
      AND (%(authors)s::bigint[] IS NULL OR author_id = ANY(%(authors)s::bigint[]))
      AND (%(retweeters)s::bigint[] IS NULL OR retweeter_id = ANY(%(retweeters)s::bigint[]))
    GROUP BY retweeter_id, author_id
    HAVING count(*) >= %(min_count)s
) AS g
LEFT JOIN users AS r ON r.id = g.retweeter_id
LEFT JOIN users AS a ON a.id = g.author_id
ORDER BY g.retweeter_id, g.author_id
