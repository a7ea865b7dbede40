# ruff: noqa: F811 - pytest fixtures imported from tests.fake_x_api are redefined as arguments
"""`retweetctl watch add|remove|list` through the real CLI and a real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable

import psycopg

from retweetctl.sandbox import SandboxServer, SandboxTweet, SandboxUser, retweet_post
from tests.conftest import CliResult
from tests.fake_x_api import ALICE, fake_x, fetch_cli  # noqa: F401 - fixtures

Cli = Callable[..., CliResult]
T1, T2, T3 = 1001, 1002, 9223372036854775807


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
    assert lines[0].split() == [
        "tweet",
        "author",
        "last",
        "checked",
        "(UTC)",
        "held",
        "newest",
        "retweet",
        "(UTC)",
        "retweet_count",
        "status",
    ]
    assert [line.split()[0] for line in lines[1:]] == [str(T1), str(T2), str(T3)]
    assert all("never" in line and "active" in line for line in lines[1:])

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
    text = fetch_cli(["watch", "list"]).stdout
    assert any(line.startswith(str(T1)) and "@alice" in line and " 3 " in line and " 7 " in line
               and f" {newest:%Y-%m-%d %H:%M} " in line
               for line in text.splitlines())  # fmt: skip
    (gone,) = [line.split() for line in text.splitlines() if line.startswith(str(T2))]
    assert gone[4:6] == ["0", "-"]  # held, newest retweet


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
    (gone,) = [line for line in text.splitlines() if line.startswith(str(T2))]
    assert gone.rstrip().endswith("not_found") and "(incomplete)" not in gone, gone
