-- As upsert_users.sql, from the temporary table: each id once (its last arrival),
-- in id order, in one statement.
INSERT INTO users (id, username, name)
SELECT id, username, name
FROM (
    SELECT DISTINCT ON (id) id, username, name
    FROM spooled_users
    ORDER BY id, ord DESC
) AS latest
ORDER BY id
ON CONFLICT (id) DO UPDATE
SET username = EXCLUDED.username, name = EXCLUDED.name, updated_at = now()
WHERE (users.username, users.name) IS DISTINCT FROM (EXCLUDED.username, EXCLUDED.name)
