"""The migration runner: from empty, re-run, and two first runs at once."""

from __future__ import annotations

import threading

import psycopg

from retweetctl.migrations import available_migrations, is_current, migrate


def columns(conn: psycopg.Connection[tuple[object, ...]], table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def test_migrate_from_empty_then_again(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url) as conn:
        assert not is_current(conn)
        applied = migrate(conn)
        assert [m.version for m in applied] == [m.version for m in available_migrations()]
        assert is_current(conn)
        assert migrate(conn) == []
        assert columns(conn, "retweets") == [
            "tweet_id",
            "retweeter_id",
            "author_id",
            "first_seen_at",
            "retweet_id",
            "retweeted_at",
            "author_from_mention",
        ]
        pk = conn.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'retweets'::regclass AND indisprimary"
        ).fetchone()
        assert pk is not None and "(tweet_id, retweeter_id)" in str(pk[0])
        indexes = {
            str(r[0])
            for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'retweets'")
        }
        assert {"retweets_retweeter_id_idx", "retweets_author_id_idx"} <= indexes
        persistence = conn.execute(
            "SELECT relpersistence FROM pg_class WHERE relname = 'retweet_staging'"
        ).fetchone()
        assert persistence == ("u",)  # unlogged


def test_concurrent_first_runs_do_not_race(empty_db_url: str) -> None:
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            with psycopg.connect(empty_db_url) as conn:
                barrier.wait()
                results.append(len(migrate(conn)))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [0, 0, 0, len(available_migrations())]
