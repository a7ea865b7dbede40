# ruff: noqa: F811 - pytest fixtures imported from tests.fake_x_api are redefined as arguments
"""fetch through the retweets endpoint: retweet ids and times, --via, the fallback, the backfill."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import psycopg

from retweetctl.sandbox import (
    ENDPOINT_REFUSED_BODY,
    Fault,
    SandboxServer,
    SandboxTweet,
    SandboxUser,
    retweet_post,
)
from tests.conftest import CliResult
from tests.fake_x_api import ALICE, BOB, fake_x, fetch_cli  # noqa: F401 - fixtures

Fetch = Callable[..., CliResult]

USERS = [SandboxUser(100 + i, f"user{i}", f"User {i}") for i in range(10)]
T1, T2 = 1001, 1002


def rows(db_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, params).fetchall()


def details(db_url: str, tweet_id: int) -> list[tuple[Any, ...]]:
    return rows(
        db_url,
        "SELECT retweeter_id, retweet_id, retweeted_at FROM retweets WHERE tweet_id = %s"
        " ORDER BY retweeter_id",
        tweet_id,
    )


def expected(tweet_id: int, users: list[SandboxUser]) -> list[tuple[Any, ...]]:
    return [(u.id, *retweet_post(tweet_id, i)) for i, u in enumerate(users)]


def test_fetch_stores_retweet_ids_and_times_from_the_retweets_endpoint(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:3]))
    result = fetch_cli(["fetch", str(T1)])
    assert result.exit_code == 0, result.stderr
    assert f"{T1} by @alice: 3 of 3 records added" in result.stdout
    (page,) = fake_x.state.requests_to(r"/retweets$")
    assert page.path == f"/2/tweets/{T1}/retweets"
    assert set(page.query["tweet.fields"].split(",")) == {"created_at", "author_id"}
    assert page.query["expansions"] == "author_id"
    assert fake_x.state.requests_to("retweeted_by") == []
    assert details(db_url, T1) == expected(T1, USERS[:3])
    # Usernames come from the expansion, as retweeted_by gave them.
    names = dict(rows(db_url, "SELECT id, username FROM users WHERE id >= 100"))
    assert names == {u.id: u.username for u in USERS[:3]}


def test_via_retweeted_by_keeps_the_old_endpoint_and_a_later_fetch_fills_the_times(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:2]))
    old = fetch_cli(["fetch", "--via", "retweeted_by", str(T1)])
    assert old.exit_code == 0, old.stderr
    assert len(fake_x.state.requests_to(rf"^/2/tweets/{T1}/retweeted_by$")) == 1
    assert fake_x.state.requests_to(r"/retweets$") == []
    assert details(db_url, T1) == [(USERS[0].id, None, None), (USERS[1].id, None, None)]

    fake_x.state.tweets[T1].retweeters.append(USERS[2])
    new = fetch_cli(["fetch", "--json", str(T1)])
    assert new.exit_code == 0, new.stderr
    out = json.loads(new.stdout)
    # The two stored rows are not added again; they get their times in the same run.
    assert (out["seen"], out["added"]) == (3, 1)
    assert details(db_url, T1) == expected(T1, USERS[:3])


def test_a_refused_retweets_endpoint_falls_back_to_retweeted_by_once(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:2]))
    fake_x.state.add(SandboxTweet(T2, BOB, USERS[2:5]))
    fake_x.state.fault(Fault(r"/retweets$", 403, ENDPOINT_REFUSED_BODY, times=100))
    result = fetch_cli(["fetch", str(T1), str(T2)])
    assert result.exit_code == 0, result.stderr
    assert "2 of 2 records added" in result.stdout and "3 of 3 records added" in result.stdout
    # Said once, on stderr, naming what happened and what to do.
    assert result.stderr.count("fell back to retweeted_by") == 1
    assert "not in this app's access level" in result.stderr
    assert "--via retweeted_by" in result.stderr
    # Tried once, then retweeted_by for the rest of the run.
    assert len(fake_x.state.requests_to(r"/retweets$")) == 1
    assert len(fake_x.state.requests_to("retweeted_by")) == 2
    assert [r[1] for r in details(db_url, T1) + details(db_url, T2)] == [None] * 5

    again = fetch_cli(["fetch", "--json", "--force", str(T1)])
    assert again.exit_code == 0
    assert "access level" in json.loads(again.stdout)["fallback"]
    assert again.stderr == ""  # --json: the reason is in the object, not on stderr


def test_a_403_that_does_not_name_the_endpoint_is_a_credentials_error(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:2]))
    body = json.dumps({"title": "Forbidden", "status": 403, "detail": "Forbidden"}).encode()
    fake_x.state.fault(Fault(r"/retweets$", 403, body, times=100))
    result = fetch_cli(["fetch", str(T1)])
    assert result.exit_code == 77, (result.stdout, result.stderr)
    assert "refused the credentials" in result.stderr
    assert "fell back" not in result.stderr
    assert fake_x.state.requests_to("retweeted_by") == []
    assert details(db_url, T1) == []


def test_a_limit_below_the_endpoints_minimum_page_is_cut_here(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:8]))
    result = fetch_cli(["fetch", "--limit", "2", str(T1)])
    assert result.exit_code == 0, result.stderr
    (page,) = fake_x.state.requests_to(r"/retweets$")
    assert page.query["max_results"] == "5"  # the API refuses fewer than 5
    assert details(db_url, T1) == expected(T1, USERS[:2])


def test_a_named_tweet_is_fetched_even_when_watched_and_unchanged(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:2]))
    assert fetch_cli(["watch", "add", str(T1)]).exit_code == 0
    assert fetch_cli(["fetch", "--watched"]).exit_code == 0
    skipped = fetch_cli(["fetch", "--watched"])
    assert "skipped: retweet_count unchanged" in skipped.stdout
    named = fetch_cli(["fetch", str(T1)])
    assert named.exit_code == 0, named.stderr
    assert f"{T1} by @alice: 0 of 2 records added" in named.stdout
    assert len(fake_x.state.requests_to(rf"^/2/tweets/{T1}/retweets$")) == 2


def test_tweet_urls_are_accepted_by_fetch_and_watch_add(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:1]))
    fake_x.state.add(SandboxTweet(T2, BOB, USERS[1:2]))
    urls = [
        f"https://x.com/alice/status/{T1}",
        f"https://twitter.com/bob/status/{T2}?s=20&t=abc",
        f"https://mobile.twitter.com/alice/status/{T1}/",
    ]
    added = fetch_cli(["watch", "add", *urls])
    assert added.exit_code == 0, added.stderr
    assert rows(db_url, "SELECT tweet_id FROM watched_tweets ORDER BY 1") == [(T1,), (T2,)]
    result = fetch_cli(["fetch", "--json", f"https://x.com/alice/status/{T1}?ref=share"])
    assert result.exit_code == 0, result.stderr
    assert [t["id"] for t in json.loads(result.stdout)["tweets"]] == [str(T1)]

    bad = fetch_cli(["watch", "add", "https://example.com/alice/status/1"])
    assert bad.exit_code == 2
    assert bad.stderr.count("\n") == 1 and "tweet URL" in bad.stderr
