-- fetch keeps seen/added current tweet by tweet and passes NULL here; load passes its totals.
UPDATE fetch_runs
SET finished_at = clock_timestamp(),
    seen = coalesce(%(seen)s, seen),
    added = coalesce(%(added)s, added),
    status = %(status)s,
    error = %(error)s
WHERE id = %(run_id)s
