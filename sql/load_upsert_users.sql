-- Fill in users we have no name for. A loaded archive may be years old, so it
-- never overwrites a name already stored (fetch keeps those current).
-- One statement for the whole file, in key order: every writer locks `users`
-- rows in id order, so writers never deadlock. A user seen in several chunks
-- is written once, a row with a name preferred.
INSERT INTO users (id, username, name)
SELECT id, username, name
FROM (
    SELECT DISTINCT ON (id) id, username, name
    FROM load_users
    ORDER BY id, username IS NULL
) AS named
ORDER BY id
ON CONFLICT (id) DO UPDATE
SET username = EXCLUDED.username, name = EXCLUDED.name, updated_at = now()
WHERE users.username IS NULL AND EXCLUDED.username IS NOT NULL
