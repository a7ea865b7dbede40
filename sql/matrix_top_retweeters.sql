-- The first N (`limit`) retweeters by total, from the ranks (at most RANKED_RETWEETERS of
-- them: an index scan of N entries on (total DESC, retweeter_id)); LIMIT NULL means all
-- that are ranked. More than are ranked: matrix_all_retweeters.sql.
SELECT retweeter_id, total
FROM retweet_retweeter_ranks
ORDER BY total DESC, retweeter_id
LIMIT %(limit)s
