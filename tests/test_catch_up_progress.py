"""A long catch-up says so on stderr; it runs in chunks that add up; load leaves nothing pending."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from retweetctl.aggregate import catch_up, check
from retweetctl.database import Connection
from tests.terminal import run_on_terminal

ROWS = 120_000


def pending(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM retweet_cell_deltas").fetchone()
    assert row is not None
    return int(row[0])


def generate(url: str, rows: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO retweets (tweet_id, retweeter_id, author_id)"
            " SELECT i, 1 + (i * 7919) %% 50000, 1 + (i * 31) %% 97"
            " FROM generate_series(1, %s) AS i",
            (rows,),
        )


def test_a_catch_up_in_many_chunks_equals_a_group_by(
    db_url: str, conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(db_url, 20_000)
    monkeypatch.setattr("retweetctl.aggregate.CATCH_UP_CHUNK_ROWS", 1_000)
    monkeypatch.setattr("retweetctl.aggregate.CATCH_UP_CHUNK_PAGES", 3)
    calls: list[tuple[int, int]] = []
    result = catch_up(conn, lambda done, total: calls.append((done, total)))
    assert result.deltas == 20_000
    assert calls[0] == (0, 20_000) and calls[-1] == (20_000, 20_000)
    assert len(calls) > 10  # one call per 3-page chunk
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert pending(db_url) == 0
    assert check(conn).ok


def test_a_long_catch_up_is_announced_on_stderr(db_url: str, cli) -> None:  # type: ignore[no-untyped-def]
    generate(db_url, ROWS)
    result = cli(["matrix", "-f", "edges"])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"updating the matrix: {ROWS:,} new rows…\n"
    assert pending(db_url) == 0
    # Nothing pending: nothing said.
    again = cli(["matrix", "-f", "edges"])
    assert again.stderr == "" and again.stdout == result.stdout


def test_a_short_catch_up_says_nothing(db_url: str, cli) -> None:  # type: ignore[no-untyped-def]
    generate(db_url, 1_000)
    result = cli(["matrix", "-f", "edges"])
    assert (result.exit_code, result.stderr) == (0, "")


def test_load_leaves_nothing_for_the_next_matrix(
    db_url: str,
    cli,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    data = tmp_path / "rows.csv"
    data.write_text(
        "tweet_id,retweeter_id,author_id\n"
        + "".join(f"{i},{i % 50 + 1},7\n" for i in range(1, 501))
    )
    result = cli(["load", str(data)])
    assert result.exit_code == 0, result.stderr
    assert pending(db_url) == 0
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT total FROM retweet_author_totals").fetchall() == [(500,)]


def test_on_a_terminal_the_catch_up_shows_a_progress_bar(
    db_url: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    generate(db_url, ROWS)
    stdout = tmp_path / "edges.csv"
    with stdout.open("wb") as sink:
        run = run_on_terminal(["matrix", "-f", "edges"], cli_env, on="stderr", stdout=sink)
    assert run.exit_code == 0
    seen = run.screen
    out = stdout.read_bytes()
    text = seen.decode("utf-8", "replace")
    assert f"updating the matrix: {ROWS:,} new rows…" in text
    assert "━" in text  # the bar itself
    assert out.startswith(b"retweeter_id,")
