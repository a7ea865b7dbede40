"""PostgreSQL restarted (fast, immediate) or killed with kill -9 in the middle of a run.

The run in progress must end with one line and exit 69 or 75, store nothing of the
batch in flight, and the next run must succeed and converge to the table an
uninterrupted run gives. The merge is driven through the real CLI error mapping by
merge_worker.py. Every blow is aimed at a pause point the run has reached
(retweetctl/testpoint.py): the run is stopped there, the server is hurt, the run goes on.
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
from tests.conftest import CliResult
from tests.reliability.conftest import restart
from tests.reliability.harness import (
    added_total,
    assert_one_line_error,
    cli_command,
    committed_batches,
    count,
    retweets,
    run_all,
    spawn,
    worker_command,
    write_spec,
)
from tests.reliability.steps import pause_env, resume, wait_paused

OUTAGE_CODES = (ExitCode.UNAVAILABLE, ExitCode.TEMPORARY)


def pause_line(step: str, nth: int) -> str:
    return f"retweetctl-test-pause {step} {nth}"


PAUSED = pause_line("copying", 2)  # strike_mid_run's default aim


def batches(first: int, second: int, overlap: int = 100) -> list[list[tuple[int, int, int]]]:
    """A small batch that commits at once, then a long one that shares `overlap` rows with it."""
    small = [(1, r, 10) for r in range(1, first + 1)]
    long = [(1, r, 10) for r in range(first - overlap + 1, first - overlap + 1 + second)]
    return [small, long]


def strike_mid_run(
    env: dict[str, str],
    tmp_path: Path,
    blow,  # type: ignore[no-untyped-def]
    step: str = "copying",
    nth: int = 2,
) -> tuple[list[list[tuple[int, int, int]]], CliResult]:
    """Run the worker, stop it at pause `step:nth` (default: the second batch's COPY is
    open), blow(), let it go on; return the data and its result."""
    data = batches(1_000, 4_000)
    spec = write_spec(tmp_path / "slow.json", data)
    proc = spawn(worker_command(["merge", str(spec)]), pause_env(env, step, nth), tmp_path / "p")
    wait_paused(proc, step, nth)
    blow()
    resume(proc)
    return data, proc.wait()


def kill_postmaster(url: str, pid: int) -> None:
    """kill -9 the postmaster, then wait until its orphaned backends have noticed and ended.

    An orphaned backend may otherwise still take the stopped client's next statements
    (even commit them): the outcome would depend on when it looks for its postmaster.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'retweetctl'"
        ).fetchall()
    backends = [int(row[0]) for row in rows]
    assert backends, "no retweetctl backend to orphan"
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while any(embedded._process_state(b) not in (None, "Z", "X") for b in backends):
        assert time.monotonic() < deadline, "orphaned backends outlived their postmaster"
        time.sleep(0.02)


def converge(env: dict[str, str], tmp_path: Path, url: str, data) -> int:  # type: ignore[no-untyped-def]
    """The next, uninterrupted run succeeds and the table is the union of all batches; its added."""
    expected = set(data[0]) | set(data[1])
    spec = write_spec(tmp_path / "full.json", data)
    again = spawn(worker_command(["merge", str(spec)]), env, tmp_path / "p").wait()
    assert again.exit_code == 0, again.stderr
    assert retweets(url) == expected
    assert count(url, "retweet_staging") == 0
    return added_total(again.stdout)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_server_restart_mid_merge(
    own_server: EmbeddedServer, own_url: str, own_env: dict[str, str], tmp_path: Path, mode: str
) -> None:
    # A configured server (not the embedded fallback): the run must not restart it itself.
    env = dict(own_env, RETWEETCTL_DATABASE_URL=own_url)
    data, result = strike_mid_run(env, tmp_path, lambda: restart(own_server, mode))
    assert_one_line_error(result, OUTAGE_CODES, extra=[PAUSED])
    assert committed_batches(result.stdout) == [0]
    assert retweets(own_url) == set(data[0])  # the first batch, nothing of the second
    assert count(own_url, "retweet_staging") == 0
    converge(env, tmp_path, own_url, data)


def test_embedded_server_kill_9_mid_merge_then_next_run_restarts_it(
    own_server: EmbeddedServer, own_url: str, own_env: dict[str, str], tmp_path: Path
) -> None:
    pid = own_server.status().pid
    assert pid is not None
    data, result = strike_mid_run(own_env, tmp_path, lambda: kill_postmaster(own_url, pid))
    assert_one_line_error(result, OUTAGE_CODES, extra=[PAUSED])
    assert committed_batches(result.stdout) == [0]
    assert embedded._process_state(pid) in (None, "Z", "X")
    # No `db start`: the next command finds the dead server and starts it by itself. What
    # the kill left is read from what that run adds: exactly the second batch's new rows.
    added = converge(own_env, tmp_path, own_url, data)
    assert added == len(set(data[1]) - set(data[0]))
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
    commands += [
        cli_command(["db", "start"]),
        cli_command(["db", "url"]),
        cli_command(["db", "url"]),
    ]
    results = run_all(commands, own_env, tmp_path / "p")
    assert [r.exit_code for r in results] == [0] * len(commands), [r.stderr for r in results]
    added = sum(int(r.stdout.split()[-1]) for r in results[: len(specs)])
    expected = set().union(*map(set, rows))
    assert retweets(own_url) == expected and added == len(expected)
    # One server was started, so both `db url` name the same one, and it is the one running.
    urls = {r.stdout for r in results[-2:]}
    assert len(urls) == 1 and urls.pop().strip(), [r.stdout for r in results[-2:]]
    new_pid = own_server.status().pid
    assert new_pid not in (None, pid) and embedded._process_state(new_pid) not in (None, "Z", "X")


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
    """The blow at every pause point of both batches: mid-COPY, after COPY, after the merge."""
    aims = [(step, nth) for nth in (1, 2) for step in ("copying", "copied", "merged")]
    for number, (step, nth) in enumerate(aims):
        scratch = tmp_path / f"run{number}"
        scratch.mkdir()
        own_url = own_server.ensure_running()
        with psycopg.connect(own_url, autocommit=True) as conn:
            conn.execute("DELETE FROM retweets")
        if mode == "kill-9":
            pid = own_server.status().pid
            assert pid is not None
            env = own_env
            blow = lambda pid=pid, url=own_url: kill_postmaster(url, pid)  # noqa: E731
        else:
            env = dict(own_env, RETWEETCTL_DATABASE_URL=own_url)
            blow = lambda: restart(own_server, mode)  # noqa: E731
        data, result = strike_mid_run(env, scratch, blow, step, nth)
        assert_one_line_error(result, OUTAGE_CODES, extra=[pause_line(step, nth)])
        assert committed_batches(result.stdout) == list(range(nth - 1))
        own_server.ensure_running()  # after kill -9, only a command would have restarted it
        assert retweets(own_url) == set().union(*map(set, data[: nth - 1])), (step, nth)
        converge(own_env, scratch, own_url, data)


# -- the features: load and fetch interrupted by a restart ----------------------------


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_server_restart_mid_load(
    own_server: EmbeddedServer, own_url: str, own_env: dict[str, str], tmp_path: Path, mode: str
) -> None:
    from tests.reliability.features import reported_added, write_twarc

    env = dict(own_env, RETWEETCTL_DATABASE_URL=own_url)
    rows = {(801, r, 901) for r in range(1, 5_001)}
    path = write_twarc(tmp_path / "big.jsonl", rows, 1_000)
    command = cli_command(["load", "--json", str(path)])
    proc = spawn(command, pause_env(env, "copying", 1), tmp_path / "p", cwd=tmp_path)
    wait_paused(proc, "copying", 1)  # the file's COPY is open
    restart(own_server, mode)
    resume(proc)
    result = proc.wait()
    assert_one_line_error(result, OUTAGE_CODES, extra=[pause_line("copying", 1)])
    assert retweets(own_url) == set()  # the file's one transaction: all or nothing
    assert count(own_url, "retweet_staging") == 0
    final = spawn(command, env, tmp_path / "p", cwd=tmp_path).wait()
    assert final.exit_code == 0, final.stderr
    assert retweets(own_url) == rows
    assert reported_added(final.stdout) == len(rows)


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_server_restart_mid_fetch(
    own_server: EmbeddedServer, own_url: str, own_env: dict[str, str], tmp_path: Path, mode: str
) -> None:
    from retweetctl.sandbox import SandboxServer
    from tests.reliability.features import add_tweets, fetch_env, reported_added

    with SandboxServer() as sandbox:
        served = add_tweets(sandbox, {811: (911, range(1, 401)), 812: (912, range(1, 301))})
        env = fetch_env(dict(own_env, RETWEETCTL_DATABASE_URL=own_url), sandbox)
        command = cli_command(["fetch", "--limit", "0", "811", "812"])
        proc = spawn(command, pause_env(env, "copied", 1), tmp_path / "p")
        wait_paused(proc, "copied", 1)  # tweet 811's 4 pages staged, not merged
        restart(own_server, mode)
        resume(proc)
        result = proc.wait()
        assert_one_line_error(result, OUTAGE_CODES, extra=[pause_line("copied", 1)])
        assert retweets(own_url) == set()  # nothing of the tweet in flight
        assert count(own_url, "retweet_staging") == 0
        final = spawn([*command, "--json"], env, tmp_path / "p").wait()
        assert final.exit_code == 0, final.stderr
        assert retweets(own_url) == set().union(*served.values())
        assert reported_added(final.stdout) == len(set().union(*served.values()))
