-- The tables users query by name: retweets is the interface, keep its columns stable.

CREATE TABLE retweets (
    tweet_id      bigint      NOT NULL,
    retweeter_id  bigint      NOT NULL,
    author_id     bigint      NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tweet_id, retweeter_id),
    CONSTRAINT retweets_ids_positive CHECK (tweet_id > 0 AND retweeter_id > 0 AND author_id > 0)
);
CREATE INDEX retweets_retweeter_id_idx ON retweets (retweeter_id);
CREATE INDEX retweets_author_id_idx ON retweets (author_id);

-- Usernames for labels; a user we never saw a name for is shown by id.
CREATE TABLE users (
    id         bigint PRIMARY KEY CHECK (id > 0),
    username   text,
    name       text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE watched_tweets (
    tweet_id        bigint PRIMARY KEY CHECK (tweet_id > 0),
    author_id       bigint,
    added_at        timestamptz NOT NULL DEFAULT now(),
    last_checked_at timestamptz,
    -- public_metrics.retweet_count as the API last reported it
    retweet_count   bigint,
    -- retweet_count at the last check that read every page we asked for;
    -- NULL after an incomplete check, so the next run asks again
    complete_retweet_count bigint,
    last_added      bigint,
    status          text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'not_found', 'unauthorized', 'error'))
);
CREATE INDEX watched_tweets_stalest_idx ON watched_tweets (last_checked_at NULLS FIRST, tweet_id);

-- One audit row per fetch or load run.
CREATE TABLE fetch_runs (
    id          bigserial PRIMARY KEY,
    command     text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    seen        bigint      NOT NULL DEFAULT 0,
    added       bigint      NOT NULL DEFAULT 0,
    status      text        NOT NULL DEFAULT 'running',
    error       text
);

-- COPY lands here. UNLOGGED: no WAL for rows that live one transaction.
-- Rows are tagged with their batch and deleted in the transaction that
-- staged them, so no run ever sees another's rows and a killed run leaves
-- nothing behind. TRUNCATE is never used: its exclusive lock deadlocks
-- overlapping loaders.
CREATE UNLOGGED TABLE retweet_staging (
    batch_id     bigint NOT NULL,
    tweet_id     bigint NOT NULL,
    retweeter_id bigint NOT NULL,
    author_id    bigint NOT NULL
);
CREATE SEQUENCE retweet_staging_batch_seq;
