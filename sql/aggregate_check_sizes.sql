-- The recorded sizes next to the truth from retweets: (recorded, fresh) for each.
SELECT s.authors, (SELECT count(DISTINCT author_id) FROM retweets),
       s.retweeters, (SELECT count(DISTINCT retweeter_id) FROM retweets),
       s.cells, (SELECT count(*) FROM (SELECT 1 FROM retweets GROUP BY retweeter_id, author_id) AS g)
FROM retweet_aggregate_sizes AS s
