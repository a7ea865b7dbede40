-- Rows the filters keep but a time window cannot place: their time is unknown.
SELECT count(*)
FROM retweets
WHERE retweeted_at IS NULL
  AND (%(authors)s::bigint[] IS NULL OR author_id = ANY(%(authors)s::bigint[]))
  AND (%(retweeters)s::bigint[] IS NULL OR retweeter_id = ANY(%(retweeters)s::bigint[]))
