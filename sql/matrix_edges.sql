-- Every non-zero cell in primary-key order: an index scan streamed through a
-- server-side cursor, so memory stays constant however many cells there are.
SELECT c.retweeter_id, r.username, c.author_id, a.username, c.n
FROM retweet_cells AS c
LEFT JOIN users AS r ON r.id = c.retweeter_id
LEFT JOIN users AS a ON a.id = c.author_id
WHERE (%(authors)s::bigint[] IS NULL OR c.author_id = ANY(%(authors)s::bigint[]))
  AND (%(retweeters)s::bigint[] IS NULL OR c.retweeter_id = ANY(%(retweeters)s::bigint[]))
  AND c.n >= %(min_count)s
ORDER BY c.retweeter_id, c.author_id
