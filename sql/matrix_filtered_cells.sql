SELECT retweeter_id, author_id, n
FROM matrix_filtered
WHERE retweeter_id = ANY(%(retweeters)s::bigint[])
  AND author_id = ANY(%(authors)s::bigint[])
