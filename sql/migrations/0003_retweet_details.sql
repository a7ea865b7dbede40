-- What a retweet says about itself, where the source gives it (NULL otherwise):
--   retweet_id           the retweet post's own id (the X API retweets endpoint, twarc2 pages)
--   retweeted_at         when it was retweeted (the retweet post's created_at)
--   author_from_mention  true when the original was not in the page (deleted, withheld,
--                        suspended author) and its author was read from the retweet's
--                        `RT @name:` mention; false when it came from the original tweet
-- Adding nullable columns, and a NOT NULL column with a constant default, rewrites nothing.
ALTER TABLE retweets
    ADD COLUMN retweet_id bigint CONSTRAINT retweets_retweet_id_positive CHECK (retweet_id > 0),
    ADD COLUMN retweeted_at timestamptz,
    ADD COLUMN author_from_mention boolean NOT NULL DEFAULT false;

ALTER TABLE retweet_staging
    ADD COLUMN retweet_id bigint,
    ADD COLUMN retweeted_at timestamptz,
    ADD COLUMN author_from_mention boolean NOT NULL DEFAULT false;
