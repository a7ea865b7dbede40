SELECT retweeter_id, total
FROM retweet_retweeter_totals
ORDER BY total DESC, retweeter_id
LIMIT %(limit)s
