-- Users of a tweet with more retweeters than fetch holds in memory (retweetctl/spool.py).
-- TEMP: private to this session; `ord` keeps arrival order, so the last name seen wins.
CREATE TEMP TABLE IF NOT EXISTS spooled_users (
    ord      bigint GENERATED ALWAYS AS IDENTITY,
    id       bigint NOT NULL,
    username text,
    name     text
) ON COMMIT DELETE ROWS
