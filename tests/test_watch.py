# ruff: noqa: F811 - pytest fixtures imported from tests.fake_x_api are redefined as arguments
"""`retweetctl watch add|remove|list` through the real CLI and a real PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from retweetctl.commands import watch
from retweetctl.sandbox import SandboxServer, SandboxTweet, SandboxUser, retweet_post
from tests.conftest import CliResult, run_cli
from tests.fake_x_api import ALICE, fake_x, fetch_cli  # noqa: F401 - fixtures
from tests.terminal import run_on_terminal

Cli = Callable[..., CliResult]
T1, T2, T3 = 1001, 1002, 9223372036854775807


def cells(line: str) -> list[str]:
    """A `watch list` line's cells: columns are 2 spaces apart, a cell holds at most 1."""
    return re.split(r" {2,}", line.strip())


def watched(db_url: str) -> dict[int, str]:
    with psycopg.connect(db_url) as conn:
        return dict(conn.execute("SELECT tweet_id, status FROM watched_tweets").fetchall())


def test_add_remove_and_list(cli: Cli, db_url: str) -> None:
    added = cli(["watch", "add", str(T1), str(T2), str(T1)])
    assert added.exit_code == 0, added.stderr
    assert added.stdout.strip() == "watching 2 more tweets"
    again = cli(["watch", "add", str(T2), str(T3)])
    assert again.stdout.strip() == f"watching 1 more tweet (1 already watched: {T2})"
    assert set(watched(db_url)) == {T1, T2, T3}

    listed = cli(["watch", "list"])
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert cells(lines[0]) == ["tweet", "author", "held", "count", "checked", "newest RT", "status"]
    # Never checked: author and count unknown, nothing held.
    assert [cells(line) for line in lines[1:]] == [
        [str(tweet), "?", "0", "?", "never", "-", "active"] for tweet in (T1, T2, T3)
    ]

    removed = cli(["watch", "remove", str(T2), "5"])
    assert removed.exit_code == 0
    assert removed.stdout.strip() == "removed 1 tweet from the watch list (1 not watched: 5)"
    assert set(watched(db_url)) == {T1, T3}


def test_empty_list(cli: Cli) -> None:
    result = cli(["watch", "list"])
    assert result.exit_code == 0
    assert "the watch list is empty" in result.stdout
    assert json.loads(cli(["watch", "list", "--json"]).stdout) == []


def test_ids_from_stdin(cli: Cli, db_url: str) -> None:
    result = cli(["watch", "add", "-"], input=f"{T1}\n\n{T2}\n")
    assert result.exit_code == 0, result.stderr
    assert set(watched(db_url)) == {T1, T2}


def test_bad_id_exits_2_and_adds_nothing(cli: Cli, db_url: str) -> None:
    result = cli(["watch", "add", str(T1), "9223372036854775808"])
    assert result.exit_code == 2
    assert "'9223372036854775808'" in result.stderr
    assert watched(db_url) == {}
    assert cli(["watch", "add"]).exit_code == 2


def test_list_shows_coverage_after_a_fetch(
    fetch_cli: Cli, fake_x: SandboxServer, db_url: str
) -> None:
    retweeters = [SandboxUser(100 + i, f"u{i}", "") for i in range(3)]
    fake_x.state.add(SandboxTweet(T1, ALICE, retweeters, retweet_count=7))
    assert fetch_cli(["watch", "add", str(T1), str(T2)]).exit_code == 0
    assert fetch_cli(["fetch", "--watched"]).exit_code == 0
    listed = fetch_cli(["watch", "list", "--json"])
    entries = {e["id"]: e for e in json.loads(listed.stdout)}
    first = entries[str(T1)]
    assert (first["author_id"], first["author_username"], first["held"]) == (
        str(ALICE.id),
        "alice",
        3,
    )
    assert (first["retweet_count"], first["complete"], first["status"]) == (7, True, "active")
    assert first["last_checked_at"] is not None
    assert entries[str(T2)]["status"] == "not_found"
    # The newest of the three retweets the retweets endpoint dated; none held for T2.
    newest = retweet_post(T1, 2)[1]
    assert first["newest_retweet_at"] == newest.isoformat()
    assert entries[str(T2)]["newest_retweet_at"] is None
    before = datetime.now(UTC)
    text = fetch_cli(["watch", "list"]).stdout
    ages = {watch._ago(newest, at) for at in (before, datetime.now(UTC))}
    (shown,) = [cells(line) for line in text.splitlines() if line.startswith(str(T1))]
    # held 3 of a retweet_count of 7, checked just now, the newest retweet's age
    assert shown[:5] == [str(T1), "@alice", "3", "7", "just now"], shown
    assert shown[5] in ages and shown[6] == "active", (shown, ages)
    (gone,) = [cells(line) for line in text.splitlines() if line.startswith(str(T2))]
    assert gone[2:] == ["0", "?", "just now", "-", "not_found"]  # nothing held, no newest


def test_re_adding_a_marked_tweet_makes_it_active(
    fetch_cli: Cli, fake_x: SandboxServer, db_url: str
) -> None:
    assert fetch_cli(["watch", "add", str(T1)]).exit_code == 0
    assert fetch_cli(["fetch", "--watched"]).exit_code == 0
    assert watched(db_url) == {T1: "not_found"}
    assert fetch_cli(["watch", "add", str(T1)]).exit_code == 0
    assert watched(db_url) == {T1: "active"}


def test_list_of_a_tweet_watched_after_a_fetch_names_its_author_and_not_found_is_not_incomplete(
    fetch_cli: Cli, fake_x: SandboxServer
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [SandboxUser(101, "u1", "")], retweet_count=1))
    assert fetch_cli(["fetch", str(T1), str(T2)]).exit_code == 0  # T2: not found
    assert fetch_cli(["watch", "add", str(T1), str(T2)]).exit_code == 0
    entries = {e["id"]: e for e in json.loads(fetch_cli(["watch", "list", "--json"]).stdout)}
    # Never checked as a watched tweet, yet its author is known from the rows held.
    assert (entries[str(T1)]["author_id"], entries[str(T1)]["author_username"]) == (
        str(ALICE.id),
        "alice",
    )
    assert fetch_cli(["fetch", "--watched"]).exit_code == 0
    text = fetch_cli(["watch", "list"]).stdout
    (gone,) = [cells(line) for line in text.splitlines() if line.startswith(str(T2))]
    assert gone[-1] == "not_found", gone  # not "incomplete": there was nothing to read


@pytest.mark.parametrize("columns", [80, 200])
def test_list_fits_the_terminal(db_url: str, cli_env: dict[str, str], columns: int) -> None:
    """The longest username (15 characters), five-digit counts, the longer statuses: one line
    each; at 80 columns the usernames are shortened in the middle just enough to fit."""
    a, b, c, d = (1790000000000001001 + i for i in range(4))
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO users (id, username) VALUES (11, 'fifteen_chars_x'), (12, 'ten_chars_')"
        )
        conn.execute(
            """
            INSERT INTO retweets (tweet_id, retweeter_id, author_id, retweeted_at)
            SELECT %(a)s, r, 11, now() - interval '2 hours' FROM generate_series(1, 12345) AS r
            UNION ALL
            SELECT %(b)s, r, 12, NULL FROM generate_series(1, 100) AS r
            """,
            {"a": a, "b": b},
        )
        conn.execute(
            """
            INSERT INTO watched_tweets (tweet_id, author_id, added_at, last_checked_at,
                                        retweet_count, complete_retweet_count, status)
            VALUES (%s, 11, now() - interval '4 days', now() - interval '5 minutes',
                    54321, 54321, 'active'),
                   (%s, 12, now() - interval '3 days', now() - interval '3 days 1 hour',
                    250, NULL, 'active'),
                   (%s, NULL, now() - interval '2 days', NULL, NULL, NULL, 'active'),
                   (%s, 11, now() - interval '1 day', now() - interval '400 days',
                    NULL, NULL, 'not_found')
            """,
            (a, b, c, d),
        )
    run = run_on_terminal(["watch", "list"], cli_env, on="stdout", columns=columns)
    assert run.exit_code == 0, run.stderr
    lines = run.screen.decode().replace("\r\n", "\n").rstrip("\n").split("\n")
    assert all(len(line) <= columns for line in lines), "\n".join(lines)
    # 83 characters whole: 3 fewer for the username
    long = "@fifteen_chars_x" if columns == 200 else "@fifte…hars_x"
    assert [cells(line) for line in lines] == [
        ["tweet", "author", "held", "count", "checked", "newest RT", "status"],
        [str(a), long, "12345", "54321", "5m ago", "2h ago", "active"],
        [str(b), "@ten_chars_", "100", "250", "3d ago", "-", "incomplete"],
        [str(c), "?", "0", "?", "never", "-", "active"],
        [str(d), long, "0", "?", "1y ago", "-", "not_found"],
    ]
    # Piped (scripts): never shortened.
    piped = run_cli(["watch", "list"], {**cli_env, "COLUMNS": "80"})
    assert "@fifteen_chars_x" in piped.stdout and "…" not in piped.stdout


def test_ages_are_one_unit_rounded_down() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    ages = {
        timedelta(seconds=-30): "just now",  # a database clock ahead of ours
        timedelta(seconds=59): "just now",
        timedelta(minutes=1): "1m ago",
        timedelta(minutes=59, seconds=59): "59m ago",
        timedelta(hours=1): "1h ago",
        timedelta(hours=47, minutes=59): "47h ago",
        timedelta(hours=48): "2d ago",
        timedelta(days=364, hours=23): "364d ago",
        timedelta(days=365): "1y ago",
        timedelta(days=3 * 365 + 1): "3y ago",
    }
    assert {ago: watch._ago(now - ago, now) for ago in ages} == ages
