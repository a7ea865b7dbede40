-- Retweeters by total beyond those ranked (migration 0006): a sort of the totals,
-- which only `--all` or more than RANKED_RETWEETERS rows ask for; LIMIT NULL means all.
SELECT retweeter_id, total
FROM retweet_retweeter_totals
ORDER BY total DESC, retweeter_id
LIMIT %(limit)s
