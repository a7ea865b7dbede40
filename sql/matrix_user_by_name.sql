-- X usernames are case-insensitive; the lowest id wins if two rows ever share one.
SELECT id FROM users WHERE lower(username) = lower(%(username)s) ORDER BY id LIMIT 1
