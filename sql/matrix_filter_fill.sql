-- The cells the filters keep; a NULL list means "no filter" (folded away by the planner).
INSERT INTO matrix_filtered (retweeter_id, author_id, n)
SELECT retweeter_id, author_id, n
FROM retweet_cells
WHERE (%(authors)s::bigint[] IS NULL OR author_id = ANY(%(authors)s::bigint[]))
  AND (%(retweeters)s::bigint[] IS NULL OR retweeter_id = ANY(%(retweeters)s::bigint[]))
  AND n >= %(min_count)s
