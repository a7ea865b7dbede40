SELECT authors, retweeters FROM retweet_aggregate_sizes
