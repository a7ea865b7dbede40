-- The pending deltas of a large catch-up, summed per cell: one row per cell, in key
-- order. Dropped when the catch-up's transaction ends; inside a caller's open
-- transaction it outlives the catch-up, so the next one finds it and empties it.
CREATE TEMP TABLE IF NOT EXISTS retweet_catch_up_changes (
    retweeter_id bigint NOT NULL,
    author_id    bigint NOT NULL,
    n            bigint NOT NULL,
    deltas       bigint NOT NULL
) ON COMMIT DROP
