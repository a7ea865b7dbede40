-- Users from a loaded file are COPYed here, one deduplicated chunk at a time.
-- TEMP: private to this session, so no batch tagging and TRUNCATE is safe;
-- it disappears with the connection.
CREATE TEMP TABLE IF NOT EXISTS load_users (
    id       bigint NOT NULL,
    username text,
    name     text
) ON COMMIT DELETE ROWS
