-- The recorded sizes next to the real row counts: (recorded, actual) for each.
SELECT s.authors, (SELECT count(*) FROM retweet_author_totals),
       s.retweeters, (SELECT count(*) FROM retweet_retweeter_totals),
       s.cells, (SELECT count(*) FROM retweet_cells)
FROM retweet_aggregate_sizes AS s
