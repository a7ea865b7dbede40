"""PostgreSQL restarted (fast, immediate) or killed with kill -9 in the middle of a run.

The run in progress must end with one line and exit 69 or 75, store nothing of the
batch in flight, and the next run must succeed and converge to the table an
uninterrupted run gives. The merge is driven through the real CLI error mapping by
merge_worker.py, with a slow row source so the blow lands mid-COPY.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psycopg
import pytest

from retweetctl import embedded
from retweetctl.embedded import EmbeddedServer
from retweetctl.errors import ExitCode
from tests.reliability.conftest import restart
from tests.reliability.harness import (
    assert_one_line_error,
    cli_command,
    committed_batches,
    count,
    kill_points,
    retweets,
    run_all,
    spawn,
    worker_command,
    write_spec,
)

OUTAGE_CODES = (ExitCode.UNAVAILABLE, ExitCode.TEMPORARY)
SEED = 7


def batches(first: int, second: int, overlap: int = 100) -> list[list[tuple[int, int, int]]]:
    """A small batch that commits at once, then a long one that shares `overlap` rows with it."""
    small = [(1, r, 10) for r in range(1, first + 1)]
    long = [(1, r, 10) for r in range(first - overlap + 1, first - overlap + 1 + second)]
    return [small, long]


def strike_mid_run(
    env: dict[str, str],
    tmp_path: Path,
    blow,
    delay: float,  # type: ignore[no-untyped-def]
) -> tuple[list[list[tuple[int, int, int]]], object]:
    data = batches(1_000, 40_000)
    spec = write_spec(tmp_path / "slow.json", data, row_delay=0.05, every=1_000)
    proc = spawn(worker_command(["merge", str(spec)]), env, tmp_path / "p")
    assert proc.wait_for_output("copying 1"), proc.stderr
    time.sleep(delay)
    blow()
    return data, proc.wait()


def converge(env: dict[str, str], tmp_path: Path, url: str, data) -> None:  # type: ignore[no-untyped-def]
    """The next, uninterrupted run succeeds and the table is the union of all batches."""
    expected = set(data[0]) | set(data[1])
    spec = write_spec(tmp_path / "full.json", data)
    again = spawn(worker_command(["merge", str(spec)]), env, tmp_path / "p").wait()
    assert again.exit_code == 0, again.stderr
    assert retweets(url) == expected
    assert count(url, "retweet_staging") == 0


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_server_restart_mid_merge(
    own_server: EmbeddedServer, own_url: str, own_env: dict[str, str], tmp_path: Path, mode: str
) -> None:
    # A configured server (not the embedded fallback): the run must not restart it itself.
    env = dict(own_env, RETWEETCTL_DATABASE_URL=own_url)
    delay = kill_points(SEED, 1, 0.0, 1.0)[0]
    data, result = strike_mid_run(env, tmp_path, lambda: restart(own_server, mode), delay)
    assert_one_line_error(result, OUTAGE_CODES)  # type: ignore[arg-type]
    assert committed_batches(result.stdout) == [0]  # type: ignore[attr-defined]
    assert retweets(own_url) == set(data[0])  # the first batch, nothing of the second
    assert count(own_url, "retweet_staging") == 0
    converge(env, tmp_path, own_url, data)


def test_embedded_server_kill_9_mid_merge_then_next_run_restarts_it(
    own_server: EmbeddedServer, own_url: str, own_env: dict[str, str], tmp_path: Path
) -> None:
    pid = own_server.status().pid
    assert pid is not None

    def kill_postmaster() -> None:
        os.kill(pid, signal.SIGKILL)

    data, result = strike_mid_run(own_env, tmp_path, kill_postmaster, 0.3)
    assert_one_line_error(result, OUTAGE_CODES)  # type: ignore[arg-type]
    assert embedded._process_state(pid) in (None, "Z", "X")
    # No `db start`: the next command finds the dead server and starts it by itself.
    converge(own_env, tmp_path, own_url, data)
    assert own_server.status().pid not in (None, pid)


def test_embedded_server_kill_9_then_many_commands_at_once(
    own_server: EmbeddedServer, own_url: str, own_env: dict[str, str], tmp_path: Path
) -> None:
    """cron fires several jobs at once after a crash: one restarts the server, all succeed."""
    pid = own_server.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    rows = [[(2, r, 20) for r in range(start, start + 500)] for start in (1, 250, 400, 1)]
    specs = [write_spec(tmp_path / f"s{i}.json", [b]) for i, b in enumerate(rows)]
    commands = [worker_command(["merge", str(s)]) for s in specs]
    commands += [cli_command(["db", "start"]), cli_command(["db", "url"])]
    results = run_all(commands, own_env, tmp_path / "p")
    assert [r.exit_code for r in results] == [0] * len(commands), [r.stderr for r in results]
    added = sum(int(r.stdout.split()[-1]) for r in results[: len(specs)])
    expected = set().union(*map(set, rows))
    assert retweets(own_url) == expected and added == len(expected)
    assert len({r.stdout for r in results[-1:]}) == 1  # one server, one URL


def test_connection_refused_while_server_is_down_is_exit_69(
    own_server: EmbeddedServer, own_url: str, own_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(own_env, RETWEETCTL_DATABASE_URL=own_url)
    own_server.stop()
    try:
        result = spawn(cli_command(["db", "status"]), env, tmp_path / "p").wait()
        assert_one_line_error(result, [ExitCode.UNAVAILABLE])
    finally:
        own_server.ensure_running()


@pytest.mark.stress
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("mode", ["fast", "immediate", "kill-9"])
def test_stress_outages_at_many_moments(
    own_server: EmbeddedServer, own_url: str, own_env: dict[str, str], tmp_path: Path, mode: str
) -> None:
    for number, delay in enumerate(kill_points(SEED + 1, 15, 0.0, 2.0)):
        scratch = tmp_path / f"run{number}"
        scratch.mkdir()
        own_url = own_server.ensure_running()
        with psycopg.connect(own_url, autocommit=True) as conn:
            conn.execute("DELETE FROM retweets")
        if mode == "kill-9":
            pid = own_server.status().pid
            assert pid is not None
            env = own_env
            blow = lambda pid=pid: os.kill(pid, signal.SIGKILL)  # noqa: E731
        else:
            env = dict(own_env, RETWEETCTL_DATABASE_URL=own_url)
            blow = lambda: restart(own_server, mode)  # noqa: E731
        data, result = strike_mid_run(env, scratch, blow, delay)
        if result.exit_code != 0:  # the blow may land after the last commit
            assert_one_line_error(result, OUTAGE_CODES)  # type: ignore[arg-type]
        own_server.ensure_running()  # after kill -9, only a command would have restarted it
        stored = retweets(own_url)
        assert stored in (set(data[0]), set(data[0]) | set(data[1])), (number, delay)
        converge(own_env, scratch, own_url, data)


# -- the features: load and fetch interrupted by a restart ----------------------------


def wait_for_copy(url: str, timeout: float = 60.0) -> None:
    """Until a retweetctl session is running COPY: the middle of a merge."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'retweetctl' AND query LIKE 'COPY%%'"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.01)
    raise AssertionError("no COPY seen")


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_server_restart_mid_load(
    own_server: EmbeddedServer, own_url: str, own_env: dict[str, str], tmp_path: Path, mode: str
) -> None:
    from tests.reliability.features import reported_added, write_twarc

    env = dict(own_env, RETWEETCTL_DATABASE_URL=own_url)
    rows = {(801, r, 901) for r in range(1, 150_001)}
    path = write_twarc(tmp_path / "big.jsonl", rows, 1_000)
    proc = spawn(cli_command(["load", "--json", str(path)]), env, tmp_path / "p", cwd=tmp_path)
    wait_for_copy(own_url)
    restart(own_server, mode)
    result = proc.wait()
    if result.exit_code != 0:  # the restart may come after the commit on a fast machine
        assert_one_line_error(result, OUTAGE_CODES)
        assert retweets(own_url) == set()  # the file's one transaction: all or nothing
    again = spawn(cli_command(["load", "--json", str(path)]), env, tmp_path / "p", cwd=tmp_path)
    final = again.wait()
    assert final.exit_code == 0, final.stderr
    assert retweets(own_url) == rows
    assert reported_added(final.stdout) == (len(rows) if result.exit_code else 0)
    assert count(own_url, "retweet_staging") == 0


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_server_restart_mid_fetch(
    own_server: EmbeddedServer, own_url: str, own_env: dict[str, str], tmp_path: Path, mode: str
) -> None:
    from retweetctl.sandbox import Fault, SandboxServer
    from tests.reliability.features import add_tweets, fetch_env

    with SandboxServer() as sandbox:
        served = add_tweets(sandbox, {811: (911, range(1, 401)), 812: (912, range(1, 301))})
        sandbox.state.fault(Fault(r"/retweets$", status=None, delay=0.3, times=10**6))
        env = fetch_env(dict(own_env, RETWEETCTL_DATABASE_URL=own_url), sandbox)
        command = cli_command(["fetch", "--limit", "0", "811", "812"])
        proc = spawn(command, env, tmp_path / "p")
        deadline = time.monotonic() + 60
        while len(sandbox.state.requests_to("/retweets$")) < 2:  # inside tweet 811's pages
            assert time.monotonic() < deadline and proc.popen.poll() is None, proc.stderr
            time.sleep(0.01)
        restart(own_server, mode)
        result = proc.wait()
        assert_one_line_error(result, OUTAGE_CODES)
        stored = retweets(own_url)
        for tweet_id, rows in served.items():  # whole tweets or nothing of them
            assert {row for row in stored if row[0] == tweet_id} in (set(), rows)
        with sandbox.state.lock:
            sandbox.state.faults.clear()
        final = spawn(command, env, tmp_path / "p").wait()
        assert final.exit_code == 0, final.stderr
        assert retweets(own_url) == set().union(*served.values())
