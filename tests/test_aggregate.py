"""The aggregate equals a fresh GROUP BY over retweets: after merges, deletes, concurrency and kills."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from retweetctl.aggregate import CATCH_UP_LOCK_KEY, catch_up, check
from retweetctl.database import Connection
from retweetctl.errors import ExitCode
from retweetctl.ingest import Row, merge_rows
from retweetctl.migrations import available_migrations, migrate
from tests.matrix_data import CELLS, fill, rows_for

REPO = Path(__file__).resolve().parent.parent
# A merge big enough to be caught in the act on a slow shared machine.
KILLED_MERGE_ROWS = 300_000
KILLED_CATCH_UP_DELTAS = 120_000
WAIT_SECONDS = 60


def fresh_cells(conn: Connection) -> dict[tuple[int, int], int]:
    rows = conn.execute(
        "SELECT retweeter_id, author_id, count(*) FROM retweets GROUP BY 1, 2"
    ).fetchall()
    conn.commit()
    return {(int(r), int(a)): int(n) for r, a, n in rows}  # type: ignore[call-overload]


def stored_cells(conn: Connection) -> dict[tuple[int, int], int]:
    rows = conn.execute("SELECT retweeter_id, author_id, n FROM retweet_cells").fetchall()
    conn.commit()
    return {(int(r), int(a)): int(n) for r, a, n in rows}  # type: ignore[call-overload]


def assert_consistent(conn: Connection) -> None:
    result = check(conn)
    assert result.ok, [d.describe() for d in result.shown]
    assert stored_cells(conn) == fresh_cells(conn)
    pending = conn.execute("SELECT count(*) FROM retweet_cell_deltas").fetchone()
    conn.commit()
    assert pending == (0,)


def test_merges_feed_the_aggregate_with_rows_really_inserted(conn: Connection) -> None:
    fill(conn)
    # Repeats of stored rows, and a row twice in one batch, add nothing.
    merge_rows(conn, [*rows_for({(11, 100): 5}), (777, 11, 100), (777, 11, 100)])
    conn.commit()
    catch_up(conn)
    expected = dict(CELLS)
    expected[(11, 100)] += 1
    assert stored_cells(conn) == expected
    totals = dict(conn.execute("SELECT author_id, total FROM retweet_author_totals").fetchall())
    assert totals == {100: 19, 200: 26, 300: 18}
    assert_consistent(conn)


def test_catch_up_with_nothing_pending_changes_nothing(conn: Connection) -> None:
    fill(conn)
    first = catch_up(conn)
    assert (first.deltas, first.new_cells) == (sum(CELLS.values()), len(CELLS))
    assert catch_up(conn).deltas == 0
    assert stored_cells(conn) == CELLS


def test_deletes_updates_and_truncate_keep_it_equal(conn: Connection) -> None:
    fill(conn)
    catch_up(conn)
    # 13's only retweet goes: its cell, its total and the size must go too.
    conn.execute("DELETE FROM retweets WHERE retweeter_id = 13")
    conn.execute(
        "DELETE FROM retweets WHERE retweeter_id = 11 AND author_id = 200 AND tweet_id < 200003"
    )
    conn.execute("UPDATE retweets SET author_id = 300 WHERE retweeter_id = 15")
    conn.execute("UPDATE retweets SET first_seen_at = now() - interval '1 day'")
    conn.commit()
    assert_consistent(conn)
    cells = stored_cells(conn)
    assert (13, 300) not in cells and (15, 100) not in cells
    assert cells[(15, 300)] == 1 and cells[(11, 200)] == 13
    sizes = conn.execute(
        "SELECT authors, retweeters, cells FROM retweet_aggregate_sizes"
    ).fetchone()
    assert sizes == (3, 5, len(cells))
    conn.execute("TRUNCATE retweets")
    conn.commit()
    assert_consistent(conn)
    assert stored_cells(conn) == {}


def test_check_reports_a_difference_and_the_cli_exits_65(conn: Connection, cli) -> None:  # type: ignore[no-untyped-def]
    fill(conn)
    ok = cli(["db", "check"])
    assert ok.exit_code == 0, ok.stderr
    assert ok.stdout == "aggregate matches retweets: 9 cells, 3 authors, 6 retweeters\n"
    conn.execute("UPDATE retweet_cells SET n = n + 1 WHERE retweeter_id = 12 AND author_id = 200")
    conn.execute("DELETE FROM retweet_author_totals WHERE author_id = 300")
    conn.commit()
    result = check(conn)
    assert not result.ok and result.differences == 2
    bad = cli(["db", "check"])
    assert bad.exit_code == ExitCode.DATA_ERROR
    assert "cell retweeter 12 x author 200: aggregate 10, retweets 9" in bad.stdout
    assert "author 300 total: aggregate missing, retweets 18" in bad.stdout
    assert bad.stderr == (
        "retweetctl: error: the matrix aggregate differs from retweets in 2 places (first 2 shown above)\n"
    )


def test_migration_builds_the_aggregate_from_rows_already_stored(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url) as conn:
        first = available_migrations()[0]
        conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(first.path.read_text())
        conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (1, first.name)
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO retweets (tweet_id, retweeter_id, author_id) VALUES (%s, %s, %s)",
                rows_for(CELLS),
            )
        conn.commit()
        migrate(conn)
        assert stored_cells(conn) == CELLS
        assert_consistent(conn)


def _random_rows(rng: random.Random, count: int) -> list[Row]:
    # A small key space, so concurrent batches overlap heavily.
    rows = []
    for _ in range(count):
        tweet = rng.randint(1, 400)
        rows.append((tweet, rng.randint(1, 60), 1 + tweet % 7))
    return rows


def _concurrent_merges(db_url: str, writers: int, batches: int, batch_rows: int) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with psycopg.connect(db_url) as conn:
                for _ in range(batches):
                    merge_rows(conn, _random_rows(rng, batch_rows))
                    conn.commit()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def catcher() -> None:
        try:
            with psycopg.connect(db_url) as conn:
                while not stop.is_set():
                    catch_up(conn)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(writers)]
    catchers = [threading.Thread(target=catcher) for _ in range(2)]
    for thread in threads + catchers:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    for thread in catchers:
        thread.join()
    assert errors == []


def test_concurrent_merges_and_catch_ups_lose_nothing(db_url: str, conn: Connection) -> None:
    _concurrent_merges(db_url, writers=4, batches=8, batch_rows=300)
    assert fresh_cells(conn)  # something was merged
    assert_consistent(conn)


@pytest.mark.stress
def test_concurrent_merges_and_catch_ups_lose_nothing_at_length(
    db_url: str, conn: Connection
) -> None:
    _concurrent_merges(db_url, writers=8, batches=60, batch_rows=3_000)
    assert_consistent(conn)


def _wait_for_query(conn: Connection, pattern: str) -> int:
    """The pid of a backend running a statement LIKE pattern (waits until one does)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s"
            " AND pid <> pg_backend_pid()",
            (pattern,),
        ).fetchone()
        conn.commit()
        if row:
            return int(row[0])  # type: ignore[call-overload]
        time.sleep(0.02)
    raise AssertionError(f"no backend ran {pattern!r} within {WAIT_SECONDS}s")


MERGE_SCRIPT = """
import sys, psycopg
from retweetctl.ingest import merge_rows
rows = ((10_000_000 + i, 1 + i % 5000, 1 + i % 13) for i in range(int(sys.argv[2])))
with psycopg.connect(sys.argv[1]) as conn:
    merge_rows(conn, rows)
"""


def test_a_merge_killed_midway_leaves_the_aggregate_equal(db_url: str, conn: Connection) -> None:
    fill(conn)
    process = subprocess.Popen(
        [sys.executable, "-c", MERGE_SCRIPT, db_url, str(KILLED_MERGE_ROWS)], cwd=REPO
    )
    try:
        _wait_for_query(conn, "%INSERT INTO retweets%")
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    # The server notices the dead client and rolls its transaction back.
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        busy = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ).fetchone()
        conn.commit()
        if busy == (0,):
            break
        time.sleep(0.05)
    assert fresh_cells(conn) == CELLS
    assert_consistent(conn)


def test_a_catch_up_terminated_midway_is_redone_by_the_next(db_url: str, conn: Connection) -> None:
    rows = [(1_000_000 + i, 1 + i % 20_000, 1 + i % 11) for i in range(KILLED_CATCH_UP_DELTAS)]
    merge_rows(conn, rows)
    conn.commit()
    outcome: list[BaseException] = []

    def doomed() -> None:
        try:
            with psycopg.connect(db_url) as victim:
                catch_up(victim)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=doomed)
    thread.start()
    pid = _wait_for_query(conn, "%DELETE FROM retweet_cell_deltas%")
    conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    conn.commit()
    thread.join()
    assert outcome and isinstance(outcome[0], psycopg.OperationalError)
    assert stored_cells(conn) == {}  # nothing half-applied
    assert_consistent(conn)  # check catches up what was left pending


def test_check_waits_for_a_running_catch_up(db_url: str, conn: Connection) -> None:
    fill(conn)
    with psycopg.connect(db_url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (CATCH_UP_LOCK_KEY,))
        result: list[bool] = []
        pid = conn.info.backend_pid
        thread = threading.Thread(target=lambda: result.append(check(conn).ok))
        thread.start()
        # Blocked: the server shows check's backend waiting for the catch-up's advisory lock.
        with psycopg.connect(db_url, autocommit=True) as watcher:
            deadline = time.monotonic() + WAIT_SECONDS
            while watcher.execute(
                "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone() != ("Lock", "advisory"):
                assert time.monotonic() < deadline and thread.is_alive(), result
                time.sleep(0.02)
        assert result == []
        holder.commit()
        thread.join()
    assert result == [True]
