UPDATE retweet_aggregate_sizes
SET authors = authors + %(authors)s,
    retweeters = retweeters + %(retweeters)s,
    cells = cells + %(cells)s
