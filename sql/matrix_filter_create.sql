-- The cells a filtered or windowed read keeps. Dropped when the read's transaction ends;
-- inside a caller's open transaction it outlives the read, so a second read finds it
-- and empties it (matrix.py) instead of failing on CREATE.
CREATE TEMP TABLE IF NOT EXISTS matrix_filtered (
    retweeter_id bigint NOT NULL,
    author_id    bigint NOT NULL,
    n            bigint NOT NULL
) ON COMMIT DROP
