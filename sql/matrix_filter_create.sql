CREATE TEMP TABLE matrix_filtered (
    retweeter_id bigint NOT NULL,
    author_id    bigint NOT NULL,
    n            bigint NOT NULL
) ON COMMIT DROP
