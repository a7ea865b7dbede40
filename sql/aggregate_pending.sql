-- How many pages the deltas table spans, how many deltas are pending, and how many
-- retweeters the aggregate holds (the ranks are full from RANKED_RETWEETERS on).
SELECT pg_relation_size('retweet_cell_deltas') / current_setting('block_size')::bigint,
       (SELECT count(*) FROM retweet_cell_deltas),
       coalesce((SELECT retweeters FROM retweet_aggregate_sizes), 0)
