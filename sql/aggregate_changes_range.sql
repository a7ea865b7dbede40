-- `changes` for aggregate_catch_up.sql: a range of pages of the changes a large
-- catch-up took (a TID range scan); stored in key order, so a range is a key range.
changes AS (
    SELECT retweeter_id, author_id, n, deltas
    FROM retweet_catch_up_changes
    WHERE ctid >= %(from)s::tid AND ctid < %(to)s::tid
)
