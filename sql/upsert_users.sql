-- Usernames, one statement in id order: concurrent writers lock rows in one order.
INSERT INTO users (id, username, name)
SELECT id, username, name
FROM unnest(%(ids)s::bigint[], %(usernames)s::text[], %(names)s::text[]) AS u (id, username, name)
ORDER BY id
ON CONFLICT (id) DO UPDATE
SET username = EXCLUDED.username, name = EXCLUDED.name, updated_at = now()
WHERE (users.username, users.name) IS DISTINCT FROM (EXCLUDED.username, EXCLUDED.name)
