-- retweet_count at each watched tweet's last complete check (NULL: none, or incomplete).
SELECT tweet_id, complete_retweet_count
FROM watched_tweets
WHERE tweet_id = ANY(%(ids)s)
