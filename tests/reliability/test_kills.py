"""The CLI process itself killed (kill -9, Ctrl-C) or cut off (`| head`) at random moments.

After a kill -9 at any point the table holds exactly the batches whose merge
committed, the staging table holds nothing that changes a later count, and the
next run adds exactly the rest.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from retweetctl.errors import ExitCode
from tests.conftest import run_cli
from tests.reliability.harness import (
    added_total,
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

SEED = 20261127
Rows = list[tuple[int, int, int]]


def overlapping_batches(number: int = 5, size: int = 2_000) -> list[Rows]:
    """Batches over two tweets whose retweeter ranges overlap by half."""
    return [
        [(100 + b % 2, r, 7) for r in range(1 + b * size // 2, 1 + b * size // 2 + size)]
        for b in range(number)
    ]


def kill_and_check(cli_env: dict[str, str], db_url: str, tmp_path: Path, delay: float) -> None:
    data = overlapping_batches()
    before = retweets(db_url)
    spec = write_spec(tmp_path / f"spec{delay}.json", data, row_delay=0.01, every=200)
    proc = spawn(worker_command(["merge", str(spec)]), cli_env, tmp_path / "p")
    time.sleep(delay)
    proc.kill()
    printed = committed_batches(proc.stdout)
    stored = retweets(db_url) - before
    # A kill between COMMIT and the print leaves one more batch stored than printed.
    candidates = [set().union(*map(set, data[: len(printed) + extra])) - before for extra in (0, 1)]
    assert stored in candidates, (delay, printed, len(stored))
    assert count(db_url, "retweet_staging") == 0
    full = write_spec(tmp_path / "full.json", data)
    result = spawn(worker_command(["merge", str(full)]), cli_env, tmp_path / "p").wait()
    assert result.exit_code == 0, result.stderr
    added = added_total(result.stdout)
    expected = set().union(*map(set, data))
    assert retweets(db_url) == before | expected
    assert added == len(expected - before - stored)


@pytest.mark.parametrize("delay", kill_points(SEED, 6, 0.2, 2.0))
def test_kill_9_of_a_merging_process(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, delay: float
) -> None:
    kill_and_check(cli_env, db_url, tmp_path, delay)


@pytest.mark.stress
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("delay", kill_points(SEED + 1, 60, 0.1, 2.5))
def test_stress_kill_9_of_a_merging_process(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, delay: float
) -> None:
    kill_and_check(cli_env, db_url, tmp_path, delay)


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


def test_ctrl_c_mid_merge_is_a_quiet_exit_130_and_stores_nothing(
    cli_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    data = overlapping_batches(2, 20_000)
    spec = write_spec(tmp_path / "spec.json", data, row_delay=0.05, every=1_000)
    proc = spawn(worker_command(["merge", str(spec)]), cli_env, tmp_path / "p")
    assert proc.wait_for_output("copying 1")
    proc.popen.send_signal(signal.SIGINT)
    result = proc.wait()
    assert result.exit_code == ExitCode.INTERRUPTED, result.stderr
    assert result.stderr == ""  # the user pressed Ctrl-C: no traceback, nothing to explain
    assert retweets(db_url) == set(data[0])
    assert count(db_url, "retweet_staging") == 0


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
