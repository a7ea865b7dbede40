UPDATE fetch_runs
SET finished_at = clock_timestamp(), status = %(status)s, error = %(error)s
WHERE id = %(run_id)s
