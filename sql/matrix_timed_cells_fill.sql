-- Every cell the filters (and the time window, if `windowed`) keep, with the first and
-- last retweet time where known: a GROUP BY over `retweets`, which alone holds times.
INSERT INTO matrix_timed_cells (retweeter_id, author_id, n, first_at, last_at)
SELECT retweeter_id, author_id, count(*), min(retweeted_at), max(retweeted_at)
FROM retweets
WHERE (NOT %(windowed)s
       OR (retweeted_at >= %(since)s::timestamptz AND retweeted_at < %(until)s::timestamptz))
  AND (%(authors)s::bigint[] IS NULL OR author_id = ANY(%(authors)s::bigint[]))
  AND (%(retweeters)s::bigint[] IS NULL OR retweeter_id = ANY(%(retweeters)s::bigint[]))
GROUP BY retweeter_id, author_id
HAVING count(*) >= %(min_count)s
