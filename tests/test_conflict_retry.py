# ruff: noqa: F811 - pytest fixtures imported from tests.fake_x_api are redefined as arguments
"""Deadlocks (40P01) and serialization failures (40001) are retried a bounded number of times.

The server raises the real error: an AFTER INSERT statement trigger on `retweets`
fires while a sequence (not rolled back with the failed transaction) is below a limit,
so "conflict once" and "conflict always" are exact, and the sequence counts attempts.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from retweetctl.conflicts import CONFLICT_ATTEMPTS
from retweetctl.errors import ExitCode
from retweetctl.sandbox import SandboxServer, SandboxTweet, SandboxUser
from tests.conftest import CliResult
from tests.fake_x_api import ALICE, TOKEN, fake_x, fetch_cli  # noqa: F401 - fixtures

Fetch = Callable[..., CliResult]
TESTS = Path(__file__).resolve().parent
BAD_LINES = TESTS / "data" / "load" / "bad_lines.jsonl"
BREXIT = TESTS / "data" / "twarc" / "brexit.jsonl"
USERS = [SandboxUser(100 + i, f"user{i}", f"User {i}") for i in range(3)]
T1, T2 = 1001, 1002
ALWAYS = 1_000_000
CODES = {"deadlock_detected": "deadlock detected", "serialization_failure": "serialization failure"}


def rows(db_url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql).fetchall()


def conflict(db_url: str, code: str, times: int) -> None:
    """Make the next `times` INSERT statements into retweets fail with SQLSTATE `code`."""
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE SCHEMA conflict_test")
        conn.execute("CREATE SEQUENCE conflict_test.fired")
        conn.execute(
            f"""
            CREATE FUNCTION conflict_test.raise() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('conflict_test.fired') <= {times} THEN
                    RAISE EXCEPTION 'injected by the test' USING ERRCODE = '{code}';
                END IF;
                RETURN NULL;
            END $$"""
        )
        conn.execute(
            "CREATE TRIGGER conflict AFTER INSERT ON retweetctl.retweets"
            " FOR EACH STATEMENT EXECUTE FUNCTION conflict_test.raise()"
        )


def attempts(db_url: str) -> int:
    """INSERT statements into retweets so far (one per merge attempt)."""
    ((value, called),) = rows(db_url, "SELECT last_value, is_called FROM conflict_test.fired")
    return int(value) if called else 0


def retry_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "retrying" in line]


@pytest.mark.parametrize("code", CODES)
def test_fetch_retries_the_write_once_with_exact_counts(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str, code: str
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS))
    fake_x.state.add(SandboxTweet(T2, ALICE, USERS[:1]))
    conflict(db_url, code, 1)
    result = fetch_cli(["fetch", str(T1), str(T2)])
    assert result.exit_code == ExitCode.OK, result.stderr
    assert retry_lines(result.stderr) == [
        f"retweetctl: database conflict ({CODES[code]}), retrying tweet {T1} "
        f"(attempt 2 of {CONFLICT_ATTEMPTS})"
    ]
    assert f"{T1} by @alice: 3 of 3 records added" in result.stdout
    assert f"{T2} by @alice: 1 of 1 records added" in result.stdout
    assert attempts(db_url) == 3  # T1 twice, T2 once
    # The pages were fetched once: only the write transaction was sent again.
    assert len(fake_x.state.requests_to(rf"^/2/tweets/{T1}/retweets$")) == 1
    assert rows(
        db_url, "SELECT count(*), count(DISTINCT (tweet_id, retweeter_id)) FROM retweets"
    ) == [(4, 4)]
    assert rows(db_url, "SELECT seen, added, status FROM fetch_runs") == [(4, 4, "ok")]


@pytest.mark.parametrize("code", CODES)
def test_fetch_conflicting_every_time_exits_75_after_the_bounded_attempts(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str, code: str
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS))
    conflict(db_url, code, ALWAYS)
    result = fetch_cli(["fetch", str(T1)])
    assert result.exit_code == ExitCode.TEMPORARY
    assert len(retry_lines(result.stderr)) == CONFLICT_ATTEMPTS - 1
    assert result.stderr.splitlines()[-1] == (
        f"retweetctl: error: database conflict ({CODES[code]}) on tweet {T1},"
        f" {CONFLICT_ATTEMPTS} attempts rolled back; retry the command"
    )
    assert attempts(db_url) == CONFLICT_ATTEMPTS
    assert len(fake_x.state.requests_to(rf"^/2/tweets/{T1}/retweets$")) == 1
    assert rows(db_url, "SELECT count(*) FROM retweets") == [(0,)]
    assert rows(db_url, "SELECT seen, added, status FROM fetch_runs") == [(0, 0, "failed")]


def test_fetch_quiet_says_nothing_of_a_retry(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS))
    conflict(db_url, "deadlock_detected", 1)
    result = fetch_cli(["fetch", "--quiet", str(T1)])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    assert attempts(db_url) == 2
    assert rows(db_url, "SELECT count(*) FROM retweets") == [(3,)]


@pytest.mark.parametrize("code", CODES)
def test_load_rereads_a_compressed_file_and_writes_its_rejects_once(
    cli: Any, db_url: str, tmp_path: Path, code: str
) -> None:
    compressed = tmp_path / "bad_lines.jsonl.gz"
    compressed.write_bytes(gzip.compress(BAD_LINES.read_bytes()))
    rejects = tmp_path / "rejects.jsonl"
    conflict(db_url, code, 1)
    result = cli(["load", "--json", "--rejects", str(rejects), str(compressed), str(BREXIT)])
    assert result.exit_code == ExitCode.OK, result.stderr
    assert retry_lines(result.stderr) == [
        f"retweetctl: database conflict ({CODES[code]}), retrying {compressed} "
        f"(attempt 2 of {CONFLICT_ATTEMPTS})"
    ]
    payload = json.loads(result.stdout)
    first, second = payload["files"]
    assert (first["input"], first["seen"], first["added"], first["users"]) == (
        str(compressed),
        3,
        3,
        1,
    )
    assert sum(first["rejected"].values()) == 13
    assert [json.loads(line)["line"] for line in rejects.read_text().splitlines()] == [
        2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16,
    ]  # fmt: skip
    assert second["added"] > 0 and first["committed"] and second["committed"]
    assert attempts(db_url) == 3
    total = payload["total"]
    assert rows(db_url, "SELECT count(*) FROM retweets") == [(total["added"],)]
    assert rows(db_url, "SELECT seen, added, status FROM fetch_runs") == [
        (total["seen"], total["added"], "ok")
    ]


def test_load_conflicting_every_time_exits_75_after_the_bounded_attempts(
    cli: Any, db_url: str, tmp_path: Path
) -> None:
    conflict(db_url, "deadlock_detected", ALWAYS)
    result = cli(["load", "--rejects", str(tmp_path / "rejects.jsonl"), str(BAD_LINES)])
    assert result.exit_code == ExitCode.TEMPORARY
    assert len(retry_lines(result.stderr)) == CONFLICT_ATTEMPTS - 1
    assert result.stderr.splitlines()[-1] == (
        f"retweetctl: error: database conflict (deadlock detected) on {BAD_LINES},"
        f" {CONFLICT_ATTEMPTS} attempts rolled back; retry the command"
    )
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"{BAD_LINES}: 0 of 0 records added") and first.endswith(
        "(rolled back)"
    )
    assert attempts(db_url) == CONFLICT_ATTEMPTS
    assert len((tmp_path / "rejects.jsonl").read_text().splitlines()) == 13
    assert rows(db_url, "SELECT count(*) FROM retweets") == [(0,)]
    assert rows(db_url, "SELECT seen, added, status FROM fetch_runs") == [(0, 0, "failed")]


def test_load_from_stdin_is_not_retried(cli: Any, db_url: str, tmp_path: Path) -> None:
    conflict(db_url, "serialization_failure", 1)
    result = cli(
        ["load", "--rejects", str(tmp_path / "rejects.jsonl"), "-"],
        input=BAD_LINES.read_text(encoding="utf-8", errors="replace"),
    )
    assert result.exit_code == ExitCode.TEMPORARY
    assert retry_lines(result.stderr) == []
    assert result.stderr.splitlines()[-1] == (
        "retweetctl: error: database conflict (serialization failure) loading -, rolled back;"
        " standard input cannot be read again; retry the command"
    )
    assert attempts(db_url) == 1
    assert rows(db_url, "SELECT count(*) FROM retweets") == [(0,)]


def test_load_strict_is_not_retried(cli: Any, db_url: str, tmp_path: Path) -> None:
    clean = tmp_path / "brexit.jsonl"
    shutil.copyfile(BREXIT, clean)
    conflict(db_url, "deadlock_detected", 1)
    result = cli(["load", "--strict", str(clean), str(clean)])
    assert result.exit_code == ExitCode.TEMPORARY
    assert retry_lines(result.stderr) == []
    assert result.stderr.splitlines()[-1] == (
        f"retweetctl: error: database conflict (deadlock detected) loading {clean}, rolled back;"
        " --strict loads all inputs in one transaction, which is not retried; retry the command"
    )
    assert attempts(db_url) == 1
    assert rows(db_url, "SELECT count(*) FROM retweets") == [(0,)]
