-- Fill in users we have no name for. A loaded archive may be years old, so it
-- never overwrites a name already stored (fetch keeps those current).
-- Key order: concurrent writers lock rows in the same order.
INSERT INTO users (id, username, name)
SELECT id, username, name
FROM load_users
ORDER BY id
ON CONFLICT (id) DO UPDATE
SET username = EXCLUDED.username, name = EXCLUDED.name, updated_at = now()
WHERE users.username IS NULL AND EXCLUDED.username IS NOT NULL
