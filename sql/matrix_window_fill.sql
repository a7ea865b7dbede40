-- The cells of a time window, counted from `retweets` (the aggregate holds no times):
-- a scan of the rows. Rows without a time are outside every window.
INSERT INTO matrix_filtered (retweeter_id, author_id, n)
SELECT retweeter_id, author_id, count(*)
FROM retweets
WHERE retweeted_at >= %(since)s::timestamptz AND retweeted_at < %(until)s::timestamptz
  AND (%(authors)s::bigint[] IS NULL OR author_id = ANY(%(authors)s::bigint[]))
  AND (%(retweeters)s::bigint[] IS NULL OR retweeter_id = ANY(%(retweeters)s::bigint[]))
GROUP BY retweeter_id, author_id
HAVING count(*) >= %(min_count)s
