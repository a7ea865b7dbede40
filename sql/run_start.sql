-- The audit row of a fetch or load run, committed at once so a killed run leaves its trace.
INSERT INTO fetch_runs (command) VALUES (%(command)s) RETURNING id
