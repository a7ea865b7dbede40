-- After retweeters entered full ranks: drop as many (`excess`) from the end, a
-- backward step on the rank index.
DELETE FROM retweet_retweeter_ranks
WHERE retweeter_id IN (
    SELECT retweeter_id FROM retweet_retweeter_ranks
    ORDER BY total, retweeter_id DESC
    LIMIT %(excess)s
)
