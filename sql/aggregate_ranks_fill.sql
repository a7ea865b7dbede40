-- The first N (`ranked`) retweeters by total, into the emptied ranks: a top-N sort of
-- the totals, which only catch-ups that lowered a total pay.
INSERT INTO retweet_retweeter_ranks (retweeter_id, total)
SELECT retweeter_id, total FROM retweet_retweeter_totals
ORDER BY total DESC, retweeter_id
LIMIT %(ranked)s
