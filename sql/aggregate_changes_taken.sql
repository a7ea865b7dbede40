-- `changes` for aggregate_catch_up.sql: every pending delta, taken and summed per cell.
taken AS (
    DELETE FROM retweet_cell_deltas
    RETURNING retweeter_id, author_id, n
), changes AS (
    SELECT retweeter_id, author_id, sum(n) AS n, count(*) AS deltas
    FROM taken
    GROUP BY retweeter_id, author_id
)
