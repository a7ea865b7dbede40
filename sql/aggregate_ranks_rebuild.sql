-- After a catch-up that lowered a total (deletions from retweets), the ranks are built
-- again from the totals: first emptied here, then filled (aggregate_ranks_fill.sql).
DELETE FROM retweet_retweeter_ranks
