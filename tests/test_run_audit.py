"""fetch_runs: one audit context for fetch and load; Ctrl-C during load records `interrupted`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from retweetctl.database import Connection
from retweetctl.errors import ExitCode
from retweetctl.runaudit import run_audit


def runs(conn: Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT command, status, error, seen, added FROM fetch_runs ORDER BY id"
    ).fetchall()


def wait_for_copy(db_url: str, deadline_seconds: float = 60) -> None:
    """Until a retweetctl session is inside its COPY into staging."""
    deadline = time.monotonic() + deadline_seconds
    with psycopg.connect(db_url, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            found = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'retweetctl' AND query LIKE 'COPY retweet_staging%'"
                " AND state = 'active'"
            ).fetchone()
            if found and found[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the load never reached its COPY")


def test_ctrl_c_during_load_records_interrupted(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, ctrl_c_works: None
) -> None:
    said = tmp_path / "stderr"
    with said.open("wb") as stderr:  # a file, not a pipe nobody reads while it runs
        load = subprocess.Popen(
            [sys.executable, "-m", "retweetctl", "load", "--format", "csv", "-"],
            env=cli_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    assert load.stdin is not None
    try:
        load.stdin.write(b"tweet_id,retweeter_id,author_id\n" + b"1,2,3\n" * 1000)
        load.stdin.flush()  # stdin stays open: the load waits inside its COPY for more
        wait_for_copy(db_url)
        load.send_signal(signal.SIGINT)
        try:
            code = load.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the load did not stop after Ctrl-C; stderr: {said.read_text()!r}"
            ) from None
    finally:
        load.kill()
        load.stdin.close()
    assert code == ExitCode.INTERRUPTED, said.read_text()
    with psycopg.connect(db_url) as conn:
        assert runs(conn) == [("load", "interrupted", "KeyboardInterrupt", 0, 0)]
        assert conn.execute("SELECT count(*) FROM retweets").fetchone() == (0,)


def test_audit_records_ok_failed_and_interrupted(conn: Connection) -> None:
    with run_audit(conn, "load") as audit:
        audit.seen, audit.added = 5, 2
    with pytest.raises(ValueError), run_audit(conn, "fetch"):
        raise ValueError("bad thing\nsecond line")
    with pytest.raises(KeyboardInterrupt), run_audit(conn, "load"):
        raise KeyboardInterrupt
    with run_audit(conn, "fetch") as audit:
        audit.fail("the X API failed")
    assert runs(conn) == [
        ("load", "ok", None, 5, 2),
        ("fetch", "failed", "bad thing", 0, 0),
        ("load", "interrupted", "KeyboardInterrupt", 0, 0),
        ("fetch", "failed", "the X API failed", 0, 0),
    ]
