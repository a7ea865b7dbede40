-- Take every pending delta into retweet_catch_up_changes, summed per cell and stored
-- in key order, so that each range of its pages is a range of keys: folding it range
-- by range touches each page of the cells' index once, as one batch would, however
-- many ranges (ranges of the deltas table, in arrival order, each touched them all).
-- Returns the pages it fills.
WITH taken AS (
    DELETE FROM retweet_cell_deltas
    RETURNING retweeter_id, author_id, n
), stored AS (
    INSERT INTO retweet_catch_up_changes (retweeter_id, author_id, n, deltas)
    SELECT retweeter_id, author_id, sum(n), count(*)
    FROM taken
    GROUP BY retweeter_id, author_id
    ORDER BY retweeter_id, author_id
    RETURNING 1
)
SELECT count(*) FROM stored
