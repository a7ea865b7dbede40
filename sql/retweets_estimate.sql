-- How many rows retweets holds, from the statistics (no scan). A table never
-- vacuumed or analyzed has reltuples = -1: estimate from its size instead
-- (about 60 bytes a row: tuple header, three bigints, timestamp, line pointer).
SELECT CASE WHEN reltuples >= 0 THEN reltuples
            ELSE pg_relation_size(oid) / 60 END
FROM pg_class
WHERE oid = 'retweets'::regclass
