-- Each given retweeter's retweets of the given authors: primary-key probes, never a scan.
SELECT retweeter_id, sum(n) AS within
FROM retweet_cells
WHERE retweeter_id = ANY(%(retweeters)s::bigint[])
  AND author_id = ANY(%(authors)s::bigint[])
GROUP BY retweeter_id
