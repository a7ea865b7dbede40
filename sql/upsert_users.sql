INSERT INTO users (id, username, name)
VALUES (%s, %s, %s)
ON CONFLICT (id) DO UPDATE
SET username = EXCLUDED.username, name = EXCLUDED.name, updated_at = now()
WHERE (users.username, users.name) IS DISTINCT FROM (EXCLUDED.username, EXCLUDED.name)
