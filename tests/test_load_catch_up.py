"""`retweetctl load` of several files folds each committed file into the matrix while the next loads.

The CLI as users run it, as a subprocess; the background catch-up is observed at
its pause point (`caught-up`, retweetctl/testpoint.py), never by the clock.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from retweetctl.errors import ExitCode
from tests.reliability.features import write_csv
from tests.reliability.harness import cli_command, count, spawn
from tests.reliability.steps import pause_env, resume, wait_paused

AGGREGATE_MATCHES_RETWEETS = """
SELECT (SELECT array_agg(c ORDER BY c) FROM (
            SELECT retweeter_id, author_id, n FROM retweet_cells) AS c)
    IS NOT DISTINCT FROM
       (SELECT array_agg(g ORDER BY g) FROM (
            SELECT retweeter_id, author_id, count(*) AS n FROM retweets GROUP BY 1, 2) AS g)
"""


def files(tmp_path: Path, count_: int) -> list[str]:
    """count_ CSV files of 300 retweets each; file k's tweet is 690+k, its author 790+k."""
    return [
        str(write_csv(tmp_path / f"{k}.csv", {(690 + k, r, 790 + k) for r in range(1, 301)}))
        for k in range(1, count_ + 1)
    ]


def test_a_committed_file_is_folded_into_the_matrix_while_the_run_goes_on(
    cli_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    # The pause point is the background thread's (the run's final catch-up has none):
    # reaching it proves a second connection folded a committed file during the run.
    env = pause_env(cli_env, "caught-up", 1)
    proc = spawn(cli_command(["load", *files(tmp_path, 3)]), env, tmp_path / "p", cwd=tmp_path)
    wait_paused(proc, "caught-up", 1)
    with psycopg.connect(db_url) as conn:
        folded = conn.execute("SELECT sum(n) FROM retweet_cells WHERE author_id = 791").fetchone()
        pending = conn.execute(
            "SELECT count(*) FROM retweet_cell_deltas WHERE author_id = 791"
        ).fetchone()
    assert (folded, pending) == ((300,), (0,))  # the first file, all in the aggregate
    resume(proc)
    result = proc.wait()
    assert result.exit_code == ExitCode.OK, result.stderr
    assert count(db_url, "retweet_cell_deltas") == 0
    with psycopg.connect(db_url) as conn:
        assert conn.execute(AGGREGATE_MATCHES_RETWEETS).fetchone() == (True,)
        assert conn.execute("SELECT count(*) FROM retweets").fetchone() == (900,)


def test_a_single_file_is_caught_up_at_the_end_without_a_second_connection(
    cli_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    env = pause_env(cli_env, "caught-up", 1)  # would stop the run if it ever got there
    proc = spawn(cli_command(["load", *files(tmp_path, 1)]), env, tmp_path / "p", cwd=tmp_path)
    result = proc.wait()
    assert result.exit_code == ExitCode.OK, result.stderr
    assert "retweetctl-test-pause" not in result.stderr
    assert count(db_url, "retweet_cell_deltas") == 0
    with psycopg.connect(db_url) as conn:
        assert conn.execute(AGGREGATE_MATCHES_RETWEETS).fetchone() == (True,)
