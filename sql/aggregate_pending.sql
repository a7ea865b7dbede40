-- How many pages the deltas table spans and how many deltas are pending.
SELECT pg_relation_size('retweet_cell_deltas') / current_setting('block_size')::bigint,
       (SELECT count(*) FROM retweet_cell_deltas)
