-- A graph export with times (graphml) reads its cells twice, nodes then edges: they are
-- grouped from `retweets` once, here, instead of once per side and once for the edges.
-- Dropped at the end of the export's transaction; emptied first when a caller's open
-- transaction still holds one from an earlier export.
CREATE TEMP TABLE IF NOT EXISTS matrix_timed_cells (
    retweeter_id bigint NOT NULL,
    author_id    bigint NOT NULL,
    n            bigint NOT NULL,
    first_at     timestamptz,
    last_at      timestamptz
) ON COMMIT DROP
