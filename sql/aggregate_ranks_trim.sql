-- After retweeters entered the ranks: keep the first N (`ranked`).
DELETE FROM retweet_retweeter_ranks
WHERE retweeter_id IN (
    SELECT retweeter_id FROM retweet_retweeter_ranks
    ORDER BY total DESC, retweeter_id OFFSET %(ranked)s
)
