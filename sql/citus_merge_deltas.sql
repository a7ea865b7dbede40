-- On Citus (no triggers on distributed tables): the aggregate's deltas of one merge,
-- appended by the merge's own transaction right after its INSERT … ON CONFLICT.
-- A row of retweets that this transaction inserted has the same xmin as the staged
-- row it came from (both written by this transaction on the shard's worker, over the
-- one connection Citus keeps per co-located shard group), so `r.xmin = s.xmin` picks
-- exactly the rows this merge added: not those stored before, not those another
-- writer added first. GROUP BY counts a pair staged twice in the batch once.
-- retweets, staging and deltas are co-located by tweet_id: shard-local on the workers.
-- Measured against a RETURNING CTE (`WITH ins AS (INSERT … RETURNING) INSERT INTO
-- deltas …`), which Citus runs by pulling the rows to the coordinator: see README "Citus".
INSERT INTO retweet_cell_deltas (tweet_id, retweeter_id, author_id, n)
SELECT r.tweet_id, r.retweeter_id, r.author_id, 1
FROM retweets AS r
JOIN retweet_staging AS s ON s.tweet_id = r.tweet_id AND s.retweeter_id = r.retweeter_id
WHERE s.batch_id = %(batch_id)s AND r.xmin = s.xmin
GROUP BY r.tweet_id, r.retweeter_id, r.author_id
