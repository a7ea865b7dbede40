-- Counted inside each tweet's transaction, so fetch_runs never disagrees with retweets.
UPDATE fetch_runs
SET seen = seen + %(seen)s, added = added + %(added)s
WHERE id = %(run_id)s
