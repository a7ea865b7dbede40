-- Does any stored retweet know when it happened? (Then the edge exports carry times.)
SELECT EXISTS (SELECT 1 FROM retweets WHERE retweeted_at IS NOT NULL)
