-- An index scan of N entries on (total DESC, author_id); LIMIT NULL means all.
SELECT author_id, total
FROM retweet_author_totals
ORDER BY total DESC, author_id
LIMIT %(limit)s
