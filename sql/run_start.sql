-- The audit row of a fetch run, committed at once so a killed run leaves its trace.
INSERT INTO fetch_runs (command) VALUES ('fetch') RETURNING id
