UPDATE fetch_runs
SET finished_at = clock_timestamp(), seen = %(seen)s, added = %(added)s,
    status = %(status)s, error = %(error)s
WHERE id = %(id)s
