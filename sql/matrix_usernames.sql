SELECT id, username FROM users WHERE id = ANY(%(ids)s::bigint[]) AND username IS NOT NULL
