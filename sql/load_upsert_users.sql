-- Fill in users we have no name for. A loaded archive may be years old, so it
-- never overwrites a name already stored (fetch keeps those current).
-- One statement for the whole file, in key order: every writer locks `users`
-- rows in id order, so writers never deadlock. A user seen in several chunks
-- is written once, a row with a name preferred. Users that would not change (a
-- name stored already, or no name to give) are left out before the upsert, which
-- would otherwise lock each of them (ON CONFLICT … WHERE locks the rows it skips):
-- a file of users seen before writes and locks nothing.
INSERT INTO users (id, username, name)
SELECT named.id, named.username, named.name
FROM (
    SELECT DISTINCT ON (id) id, username, name
    FROM load_users
    ORDER BY id, username IS NULL
) AS named
LEFT JOIN users AS stored ON stored.id = named.id
WHERE stored.id IS NULL OR (stored.username IS NULL AND named.username IS NOT NULL)
ORDER BY named.id
ON CONFLICT (id) DO UPDATE
SET username = EXCLUDED.username, name = EXCLUDED.name, updated_at = now()
WHERE users.username IS NULL AND EXCLUDED.username IS NOT NULL
