"""The CLI process itself interrupted (Ctrl-C), cut off (`| head`), or run 8 at once.

kill -9 at each step of a transaction: test_kill_steps.py. Interruptions here are
aimed at a pause point (retweetctl/testpoint.py) the process has reached.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import psycopg
import pytest

from retweetctl.errors import ExitCode
from retweetctl.sandbox import SandboxServer
from tests.conftest import CliResult, run_cli
from tests.reliability.features import add_tweets, fetch_env, write_csv, write_twarc
from tests.reliability.harness import (
    Proc,
    added_total,
    cli_command,
    count,
    retweets,
    run_all,
    spawn,
    worker_command,
    write_spec,
)
from tests.reliability.steps import pause_env, resume, wait_paused


def test_eight_overlapping_merges_at_once(
    cli_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    """cron overlap on the merge path: union stored once, reported `added` sums to the rows added."""
    data = [
        [(200 + (p + b) % 3, r, 9) for r in range(1 + p * 300, 1 + p * 300 + 1_500)]
        for p in range(8)
        for b in range(2)
    ]
    specs = [write_spec(tmp_path / f"p{p}.json", data[2 * p : 2 * p + 2]) for p in range(8)]
    results = run_all([worker_command(["merge", str(s)]) for s in specs], cli_env, tmp_path / "p")
    assert [r.exit_code for r in results] == [0] * 8, [r.stderr for r in results]
    added = sum(added_total(r.stdout) for r in results)
    expected = set().union(*map(set, data))
    assert retweets(db_url) == expected
    assert added == len(expected)
    assert count(db_url, "retweet_staging") == 0


def interrupt_at(proc: Proc, step: str, nth: int) -> CliResult:
    """Ctrl-C a process stopped at a pause point: SIGINT, then let it run to handle it."""
    wait_paused(proc, step, nth)
    proc.popen.send_signal(signal.SIGINT)
    resume(proc)
    return proc.wait()


def pause_line(step: str, nth: int) -> str:
    return f"retweetctl-test-pause {step} {nth}\n"


def test_ctrl_c_mid_merge_is_a_quiet_exit_130_and_stores_nothing(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, ctrl_c_works: None
) -> None:
    data = [[(100 + b, r, 7) for r in range(1, 2_001)] for b in range(2)]
    spec = write_spec(tmp_path / "spec.json", data)
    env = pause_env(cli_env, "copying", 2)  # the second batch's COPY is open
    proc = spawn(worker_command(["merge", str(spec)]), env, tmp_path / "p")
    result = interrupt_at(proc, "copying", 2)
    assert result.exit_code == ExitCode.INTERRUPTED, result.stderr
    # The user pressed Ctrl-C: no traceback, nothing to explain (only the test's pause line).
    assert result.stderr == pause_line("copying", 2)
    assert retweets(db_url) == set(data[0])
    assert count(db_url, "retweet_staging") == 0


def test_ctrl_c_of_fetch_mid_tweet_is_exit_130_and_the_run_is_recorded_interrupted(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, ctrl_c_works: None
) -> None:
    with SandboxServer() as sandbox:
        served = add_tweets(sandbox, {661: (761, range(1, 151)), 662: (762, range(1, 251))})
        env = pause_env(fetch_env(cli_env, sandbox), "copied", 2)  # 662 staged, not merged
        command = cli_command(["fetch", "--limit", "0", "661", "662"])
        result = interrupt_at(spawn(command, env, tmp_path / "p"), "copied", 2)
    assert result.exit_code == ExitCode.INTERRUPTED, result.stderr
    assert result.stderr == pause_line("copied", 2)
    assert retweets(db_url) == served[661]  # the tweet before, nothing of the one in flight
    assert count(db_url, "retweet_staging") == 0
    with psycopg.connect(db_url) as conn:
        runs = conn.execute("SELECT status, error, finished_at IS NOT NULL FROM fetch_runs")
        assert runs.fetchall() == [("interrupted", "KeyboardInterrupt", True)]


@pytest.mark.parametrize(
    ("quiet", "nth"),
    [(False, 2), (True, 2), (False, 1)],
    ids=["says-what-was-kept", "quiet", "in-the-first-file"],
)
def test_ctrl_c_of_load_mid_file_is_exit_130_and_keeps_the_files_before(
    cli_env: dict[str, str],
    db_url: str,
    tmp_path: Path,
    ctrl_c_works: None,
    quiet: bool,
    nth: int,
) -> None:
    first = {(671, r, 771) for r in range(1, 1_001)}
    second = {(672, r, 772) for r in range(1, 1_001)}
    files = [write_csv(tmp_path / "a.csv", first), write_twarc(tmp_path / "b.jsonl", second)]
    env = pause_env(cli_env, "copying", nth)  # the nth file's COPY is open
    command = cli_command(["load", *(["--quiet"] if quiet else []), *map(str, files)])
    result = interrupt_at(spawn(command, env, tmp_path / "p", cwd=tmp_path), "copying", nth)
    assert result.exit_code == ExitCode.INTERRUPTED, result.stderr
    # No traceback: the summary of the files stored, and one line saying where to resume.
    if quiet:
        said, summary = "", ""
    elif nth == 2:
        said = (
            f"interrupted: 1 of 2 files stored (up to {files[0]});"
            f" {files[1]} rolled back, nothing of it stored\n"
        )
        summary = f"{files[0]}: 1,000 of 1,000 records added\n"
    else:
        said = f"interrupted: 0 of 2 files stored; {files[0]} rolled back, nothing of it stored\n"
        summary = ""
    assert result.stderr == pause_line("copying", nth) + said
    assert result.stdout == summary
    assert retweets(db_url) == (first if nth == 2 else set())  # each file is one transaction
    assert count(db_url, "retweet_staging") == 0
    with psycopg.connect(db_url) as conn:
        runs = conn.execute("SELECT status FROM fetch_runs").fetchall()
    assert runs == [("interrupted",)]


def test_ctrl_c_of_load_in_its_final_catch_up_says_all_is_stored(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, ctrl_c_works: None
) -> None:
    rows = {(673, r, 773) for r in range(1, 501)}
    path = write_csv(tmp_path / "a.csv", rows)
    env = pause_env(cli_env, "catching-up", 1)  # the file committed, the fold not begun
    command = cli_command(["load", str(path)])
    result = interrupt_at(spawn(command, env, tmp_path / "p", cwd=tmp_path), "catching-up", 1)
    assert result.exit_code == ExitCode.INTERRUPTED, result.stderr
    assert result.stderr == pause_line("catching-up", 1) + (
        "interrupted: the file is stored; the matrix catches up when it next runs\n"
    )
    assert result.stdout == f"{path}: 500 of 500 records added\n"
    assert retweets(db_url) == rows
    with psycopg.connect(db_url) as conn:
        pending = conn.execute("SELECT count(*) FROM retweet_cell_deltas").fetchone()
    assert pending == (len(rows),)  # nothing folded: the next catch-up does it
    checked = run_cli(["db", "check"], cli_env)
    assert checked.exit_code == 0 and "aggregate matches retweets" in checked.stdout, checked


def test_reader_that_goes_away_is_not_an_error(cli_env: dict[str, str]) -> None:
    """`retweetctl … | head -0`: no traceback, no "Exception ignored" noise, SIGPIPE's status."""
    proc = subprocess.Popen(
        cli_command(["db", "url"]),
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == ExitCode.BROKEN_PIPE, stderr
    assert stderr == ""
    assert run_cli(["db", "url"], cli_env).exit_code == 0
