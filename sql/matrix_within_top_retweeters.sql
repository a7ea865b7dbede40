-- Retweeters ranked by their retweets of the given authors, then whole total, then id.
-- A scan of the cells (no index on author_id): the fallback when the rank-index walk
-- does not settle; LIMIT NULL means all.
SELECT c.retweeter_id, t.total, sum(c.n) AS within
FROM retweet_cells AS c
JOIN retweet_retweeter_totals AS t USING (retweeter_id)
WHERE c.author_id = ANY(%(authors)s::bigint[])
GROUP BY c.retweeter_id, t.total
ORDER BY within DESC, t.total DESC, c.retweeter_id
LIMIT %(limit)s
