"""`retweetctl matrix` on a real pseudo-terminal: the table fits, no number is ever cut."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.terminal import run_on_terminal

# 25 authors with long usernames and 4- to 5-digit totals; 60 retweeters with long names.
AUTHORS = 25
RETWEETERS = 60
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def fill_wide(url: str) -> dict[int, int]:
    """Authors 1000+a, each retweeted (1000 + 700·a) times; returns author id -> total."""
    with psycopg.connect(url) as conn:
        conn.execute(
            """
            INSERT INTO retweets (tweet_id, retweeter_id, author_id)
            SELECT a * 1000000 + k, 1 + (k * 7 + a) %% %(retweeters)s, 1000 + a
            FROM generate_series(0, %(authors)s - 1) AS a,
                 LATERAL generate_series(1, 1000 + 700 * a) AS k
            """,
            {"authors": AUTHORS, "retweeters": RETWEETERS},
        )
        conn.execute(
            """
            INSERT INTO users (id, username)
            SELECT 1000 + a, 'a_rather_long_author_name_' || a FROM generate_series(0, 24) AS a
            UNION ALL
            SELECT r, 'retweeter_with_a_long_name_' || r FROM generate_series(1, 60) AS r
            """
        )
        totals = dict(conn.execute("SELECT author_id, count(*) FROM retweets GROUP BY 1"))
    return {int(k): int(v) for k, v in totals.items()}


def run_in_pty(args: list[str], env: dict[str, str], columns: int, **extra: str) -> str:
    """Run `retweetctl ARGS` with stdout on a pseudo-terminal `columns` wide; its output."""
    env = {k: v for k, v in env.items() if k != "NO_COLOR"} | extra
    run = run_on_terminal(args, env, on="stdout", columns=columns)
    assert run.exit_code == 0, run.stderr
    return run.screen.decode("utf-8").replace("\r\n", "\n")


@pytest.mark.parametrize("columns", [80, 200])
def test_the_table_fits_the_terminal_and_never_cuts_a_number(
    db_url: str, cli_env: dict[str, str], columns: int
) -> None:
    totals = fill_wide(db_url)
    raw = run_in_pty(["matrix"], cli_env, columns)
    assert "\x1b[" in raw  # a terminal gets the heatmap in colour
    text = ANSI.sub("", raw)
    lines = text.rstrip("\n").split("\n")
    assert all(len(line) <= columns for line in lines), max(map(len, lines))
    footer = next(line for line in lines if line.startswith("total"))
    shown = [int(n) for n in footer.split()[1:]]
    # The columns shown are the top authors in order, their totals whole.
    expected = sorted(totals.values(), reverse=True)
    assert shown == expected[: len(shown)]
    assert (
        f"{AUTHORS - len(shown)} authors left out: {len(shown)} fit this width (try | less -S"
        in text
    )
    # More room shows more authors, never fewer than fit in 80 columns.
    assert len(shown) >= (3 if columns == 80 else 8)
    # No cell, total or row total is cut: every token of a data row is a whole number
    # except the (possibly shortened) label, and the row's total equals its sum
    # over all authors as the database has it.
    rows = [line for line in lines if line.startswith("@retweet")]
    assert rows
    for line in rows:
        label, *numbers = line.split()
        assert all(n.isdigit() for n in numbers), line
        assert len(numbers) == len(shown) + 1
    assert "…" not in footer and all("…" not in line.split(maxsplit=1)[1] for line in rows)


def test_a_wide_terminal_shows_whole_labels(db_url: str, cli_env: dict[str, str]) -> None:
    fill_wide(db_url)
    text = ANSI.sub("", run_in_pty(["matrix", "--top-authors", "3"], cli_env, 200))
    assert "@a_rather_long_author_name_24" in text
    assert "…" not in text


def test_piped_output_is_never_cut(db_url: str, cli_env: dict[str, str]) -> None:
    totals = fill_wide(db_url)
    result = subprocess.run(
        [sys.executable, "-m", "retweetctl", "matrix"],
        env={**cli_env, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        check=True,
    )
    footer = next(line for line in result.stdout.splitlines() if line.startswith("total"))
    assert len(footer.split()) == 1 + 20
    assert [int(n) for n in footer.split()[1:]] == sorted(totals.values(), reverse=True)[:20]
    assert "…" not in result.stdout


def test_no_color_is_respected_on_a_terminal(db_url: str, cli_env: dict[str, str]) -> None:
    fill_wide(db_url)
    raw = run_in_pty(["matrix", "--top-authors", "3"], cli_env, 200, NO_COLOR="1")
    assert "@a_rather_long_author_name_24" in raw
    assert "\x1b[4" not in raw and "48;" not in raw  # no background shades


@pytest.mark.parametrize("columns", [80, 200])
def test_the_default_view_of_real_captures_shows_rows_that_retweet_the_columns_shown(
    cli_env: dict[str, str], columns: int
) -> None:
    """Retweeters are ranked within the authors that fit the terminal, not within the 20
    chosen before the width cut: on the twarc captures most rows shown are not all zeros."""
    captures = sorted((Path(__file__).parent / "data" / "twarc").glob("*.jsonl"))
    loaded = subprocess.run(
        [sys.executable, "-m", "retweetctl", "load", "--quiet", *map(str, captures)],
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert loaded.returncode == 0, loaded.stderr
    text = ANSI.sub("", run_in_pty(["matrix"], cli_env, columns))
    lines = text.rstrip("\n").split("\n")
    assert all(len(line) <= columns for line in lines)
    footer = next(line for line in lines if line.startswith("total"))
    shown = len(footer.split()) - 1
    rules = [i for i, line in enumerate(lines) if line.startswith("─")]
    rows = [line.split() for line in lines[rules[0] + 1 : rules[1]]]
    assert len(rows) == 50
    cells = [row[1 : 1 + shown] for row in rows]
    assert all(len(c) == shown and all(n.isdigit() for n in c) for c in cells), rows
    nonzero = sum(1 for c in cells if any(int(n) > 0 for n in c))
    assert nonzero == len(rows), f"{len(rows) - nonzero} of {len(rows)} rows all zeros"
    assert "fit this width" in text
