-- The cells of the chosen rows and columns: PRIMARY KEY probes, never a scan.
SELECT retweeter_id, author_id, n
FROM retweet_cells
WHERE retweeter_id = ANY(%(retweeters)s::bigint[])
  AND author_id = ANY(%(authors)s::bigint[])
