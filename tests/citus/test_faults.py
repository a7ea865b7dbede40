# ruff: noqa: F811 - pytest fixtures imported from tests.fake_x_api are redefined as arguments
"""On a Citus cluster: overlapping runs, kill -9 of a load, a worker stopped mid-merge.

Faults are aimed at a step the load has reached, seen in the coordinator's
pg_stat_activity (its merge in flight), never at a wall-clock delay.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from retweetctl.errors import ExitCode
from retweetctl.sandbox import SandboxServer, SandboxTweet, SandboxUser
from tests.citus.cluster import CitusCluster
from tests.conftest import CliResult
from tests.fake_x_api import ALICE, fake_x, fetch_cli  # noqa: F401 - fixtures
from tests.reliability.harness import cli_command, run_all, spawn

# A load of ROWS, a worker's crash recovery and the rerun take minutes on a busy 2-core machine.
pytestmark = pytest.mark.timeout(600)
Cli = Callable[..., CliResult]
# A load big enough that its merge is seen in flight, small enough to take seconds.
ROWS = 200_000
TWEETS = 1_000
STEP_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.02
# The merge statement (sql/merge_staged.sql) as pg_stat_activity shows it.
MERGE_STEP = "%INSERT INTO retweets (tweet_id, retweeter_id, author_id%ON CONFLICT%"


def count(url: str, query: str = "SELECT count(*) FROM retweets") -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def write_csv(path: Path, first: int = 1, rows: int = ROWS) -> Path:
    with path.open("w") as out:
        out.write("tweet_id,retweeter_id,author_id\n")
        for i in range(first, first + rows):
            tweet = i % TWEETS + 1
            out.write(f"{tweet},{i},{tweet % 50 + 1}\n")
    return path


def wait_for_step(url: str, pattern: str, proc: Any) -> None:
    """Return once a retweetctl session on the coordinator runs a statement like pattern."""
    deadline = time.monotonic() + STEP_TIMEOUT_SECONDS
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            seen = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'retweetctl'"
                " AND state = 'active' AND query LIKE %s",
                (pattern,),
            ).fetchone()
            if seen and seen[0]:
                return
            assert proc.popen.poll() is None, f"the load ended first: {proc.stdout} {proc.stderr}"
            time.sleep(POLL_SECONDS)
    raise AssertionError(f"no statement like {pattern!r} within {STEP_TIMEOUT_SECONDS}s")


def no_prepared_transactions(cluster: CitusCluster, name: str) -> bool:
    """Citus recovered every two-phase commit left in doubt (none stay prepared on any node)."""
    with psycopg.connect(cluster.coordinator.url(name), autocommit=True) as conn:
        conn.execute("SELECT recover_prepared_transactions()")
    left = 0
    for node in cluster.nodes:
        with psycopg.connect(node.url(name)) as conn:
            row = conn.execute("SELECT count(*) FROM pg_prepared_xacts").fetchone()
            left += int(row[0]) if row else 0
    return left == 0


def assert_rerun_converges(
    cluster: CitusCluster, env: dict[str, str], db_url: str, data: Path, tmp_path: Path
) -> None:
    """After a failed load of data: no transaction in doubt on any node, none of the file on
    any shard (it is one transaction), the rerun adds every row and `db check` passes."""
    assert no_prepared_transactions(cluster, database_name(db_url))
    assert count(db_url) == 0
    rerun = spawn(cli_command(["load", str(data)]), env, tmp_path / "procs").wait()
    assert rerun.exit_code == 0, rerun.stderr
    assert f"{ROWS:,} of {ROWS:,} records added" in rerun.stdout, rerun.stdout
    assert count(db_url) == ROWS
    assert count(db_url, "SELECT count(*) FROM retweet_staging") == 0
    check = spawn(cli_command(["db", "check"]), env, tmp_path / "procs").wait()
    assert check.exit_code == 0, check.stdout + check.stderr


def database_name(url: str) -> str:
    return url.split("/")[3].split("?")[0]


def test_overlapping_loads_store_the_union_once(
    cli_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    files = [
        write_csv(tmp_path / f"part{p}.csv", first=1 + p * 20_000, rows=40_000) for p in range(4)
    ]
    commands = [cli_command(["load", "--json", str(f)]) for f in files]
    results = run_all(commands, cli_env, tmp_path / "procs")
    assert [r.exit_code for r in results] == [0] * 4, [r.stderr for r in results]
    added = sum(json.loads(r.stdout)["total"]["added"] for r in results)
    assert added == count(db_url) == 20_000 * 3 + 40_000
    assert count(db_url, "SELECT count(*) FROM retweet_staging") == 0
    check = run_all([cli_command(["db", "check"])], cli_env, tmp_path / "procs")[0]
    assert check.exit_code == 0, check.stdout + check.stderr


def test_kill_9_of_a_load_mid_merge_leaves_nothing_and_the_rerun_converges(
    citus_cluster: CitusCluster, cli_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    data = write_csv(tmp_path / "big.csv")
    proc = spawn(cli_command(["load", str(data)]), cli_env, tmp_path / "procs")
    wait_for_step(db_url, MERGE_STEP, proc)
    proc.kill()
    assert_rerun_converges(citus_cluster, cli_env, db_url, data, tmp_path)


def test_a_worker_stopped_mid_merge_is_one_line_and_nothing_half_merged(
    citus_cluster: CitusCluster, cli_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    data = write_csv(tmp_path / "big.csv")
    proc = spawn(cli_command(["load", str(data)]), cli_env, tmp_path / "procs")
    wait_for_step(db_url, MERGE_STEP, proc)
    worker = citus_cluster.workers[1]
    worker._run("pg_ctl", "stop", "-D", str(worker.data_dir), "-m", "immediate", "-w")
    failed = proc.wait()
    worker.ensure_running()
    assert failed.exit_code in (ExitCode.UNAVAILABLE, ExitCode.TEMPORARY), failed
    lines = failed.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("retweetctl: error: "), failed.stderr
    assert_rerun_converges(citus_cluster, cli_env, db_url, data, tmp_path)


USERS = [SandboxUser(100 + i, f"user{i}", f"User {i}") for i in range(40)]
T1, T2 = 1001, 1002


def test_fetch_against_the_sandbox_counts_exactly_and_overlaps(
    fetch_cli: Cli,
    fake_x: SandboxServer,
    db_url: str,
    tmp_path: Path,
) -> None:
    tweet = fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:10]))
    first = fetch_cli(["fetch", str(T1)])
    assert first.exit_code == 0, first.stderr
    assert f"{T1} by @alice: 10 of 10 records added" in first.stdout
    tweet.retweeters.extend(USERS[10:25])
    fake_x.state.add(SandboxTweet(T2, ALICE, USERS[5:40]))
    watched = fetch_cli(["watch", "add", str(T1), str(T2)])
    assert watched.exit_code == 0, watched.stderr
    # Two overlapping `fetch --watched` runs: per-tweet advisory locks on the coordinator.
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: fetch_cli(["fetch", "--watched"]), range(2)))
    assert [r.exit_code for r in results] == [0, 0], [r.stderr for r in results]
    assert count(db_url) == 25 + 35
    listing = fetch_cli(["watch", "list"])
    assert listing.exit_code == 0, listing.stderr
    assert count(db_url, "SELECT count(*) FROM retweet_staging") == 0
    check = fetch_cli(["db", "check"])
    assert check.exit_code == 0, check.stdout + check.stderr
