-- LIMIT 1 changes nothing on one server; on Citus it goes to each shard, where the
-- bare EXISTS pulled every row to the coordinator first (0.4 s at 200k rows, O(rows)).
SELECT EXISTS (SELECT 1 FROM retweets LIMIT 1)
