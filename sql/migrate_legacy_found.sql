-- An installation from before migration 0004: retweetctl's tables in `public`
-- (its schema_migrations has our `name` column: not another tool's table of that
-- name) and none yet in the target schema. Moved by migrate_move_to_schema.sql.
SELECT to_regclass(format('%%I.schema_migrations', %(schema)s::text)) IS NULL
   AND to_regclass('public.retweets') IS NOT NULL
   AND to_regclass('public.retweet_staging') IS NOT NULL
   AND EXISTS (
       SELECT FROM pg_attribute
       WHERE attrelid = to_regclass('public.schema_migrations')
         AND attname = 'name' AND NOT attisdropped
   )
