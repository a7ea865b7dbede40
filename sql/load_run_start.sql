INSERT INTO fetch_runs (command) VALUES ('load') RETURNING id
