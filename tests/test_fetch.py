# ruff: noqa: F811 - pytest fixtures imported from tests.fake_x_api are redefined as arguments
"""`retweetctl fetch` as cron runs it: a subprocess, a real PostgreSQL, the fake X API on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from retweetctl.cli import run
from retweetctl.sandbox import Fault, SandboxServer, SandboxTweet, SandboxUser
from tests.conftest import CliResult
from tests.fake_x_api import (  # noqa: F401 - fixtures
    ALICE,
    BOB,
    CASSETTE_TWEET,
    TOKEN,
    cassette_lookup_tweets,
    cassette_retweeters_tweet,
    fake_x,
    fetch_cli,
)

Fetch = Callable[..., CliResult]

USERS = [SandboxUser(100 + i, f"user{i}", f"User {i}") for i in range(10)]
T1, T2, T3 = 1001, 1002, 1003


def rows(db_url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(sql, params).fetchall()


def retweets(db_url: str, tweet_id: int) -> set[int]:
    return {
        r[0]
        for r in rows(db_url, "SELECT retweeter_id FROM retweets WHERE tweet_id = %s", tweet_id)
    }


def page_calls(fake: SandboxServer, tweet_id: int, endpoint: str = "retweets") -> int:
    return len(fake.state.requests_to(rf"^/2/tweets/{tweet_id}/{endpoint}$"))


def test_counts_are_exact_as_the_list_grows(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    tweet = fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    first = fetch_cli(["fetch", str(T1)])
    assert first.exit_code == 0, first.stderr
    assert f"{T1} by @alice: 1 of 1 records added" in first.stdout
    assert "1 of 1 records added in total (1 tweet fetched)" in first.stdout
    assert first.stderr == ""  # no progress bar: stderr is not a terminal

    tweet.retweeters.append(USERS[1])
    second = fetch_cli(["fetch", str(T1)])
    assert second.exit_code == 0, second.stderr
    assert f"{T1} by @alice: 1 of 2 records added" in second.stdout
    assert retweets(db_url, T1) == {USERS[0].id, USERS[1].id}
    assert rows(db_url, "SELECT author_id FROM retweets") == [(ALICE.id,), (ALICE.id,)]
    names = dict(rows(db_url, "SELECT id, username FROM users"))
    assert names == {ALICE.id: "alice", USERS[0].id: "user0", USERS[1].id: "user1"}
    runs = rows(db_url, "SELECT command, seen, added, status FROM fetch_runs ORDER BY id")
    assert runs == [("fetch", 1, 1, "ok"), ("fetch", 2, 1, "ok")]
    assert rows(db_url, "SELECT count(*) FROM retweet_staging") == [(0,)]


def test_requests_reach_the_fake_through_the_session(
    fetch_cli: Fetch, fake_x: SandboxServer
) -> None:
    """If tweepy ever bypasses Client.session, requests go elsewhere and this fails loudly."""
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    result = fetch_cli(["fetch", str(T1)])
    assert result.exit_code == 0, result.stderr
    lookup, page = fake_x.state.requests
    assert lookup.path == "/2/tweets"
    assert lookup.query["ids"] == str(T1)
    assert set(lookup.query["tweet.fields"].split(",")) == {"author_id", "public_metrics"}
    assert lookup.query["expansions"] == "author_id"
    assert page.path == f"/2/tweets/{T1}/retweets"
    assert page.query["max_results"] == "100"
    assert "pagination_token" not in page.query
    assert lookup.bearer == TOKEN and page.bearer == TOKEN


def test_recorded_pages_are_followed_until_next_token_is_absent(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    tweet = fake_x.state.add(cassette_retweeters_tweet())
    assert tweet.pages is not None
    first_page, token = tweet.pages[0]
    assert len(first_page) == 62 and token  # fewer than 100 users, and still a next_token
    result = fetch_cli(["fetch", "--limit", "0", "--json", str(CASSETTE_TWEET)])
    assert result.exit_code == 0, result.stderr
    pages = fake_x.state.requests_to("/retweets$")
    assert [p.query.get("pagination_token") for p in pages] == [None, token]
    unique = {u.id for users, _ in tweet.pages for u in users}
    out = json.loads(result.stdout)
    assert out["seen"] == 100 and out["added"] == len(unique)
    assert retweets(db_url, CASSETTE_TWEET) == unique


def test_limit_caps_retweeters_per_tweet(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    fake_x.state.add(cassette_retweeters_tweet())
    result = fetch_cli(["fetch", "--limit", "50", str(CASSETTE_TWEET)])
    assert result.exit_code == 0, result.stderr
    assert "50 of 50 records added" in result.stdout
    (page,) = fake_x.state.requests_to("/retweets$")
    assert page.query["max_results"] == "50"
    assert len(retweets(db_url, CASSETTE_TWEET)) == 50


def test_default_limit_is_100_then_the_next_run_gets_no_more(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    fake_x.state.add(
        SandboxTweet(T1, ALICE, [SandboxUser(1000 + i, f"u{i}", "") for i in range(150)])
    )
    result = fetch_cli(["fetch", str(T1)])
    assert result.exit_code == 0, result.stderr
    assert "100 of 100 records added" in result.stdout
    assert page_calls(fake_x, T1) == 1
    stored = retweets(db_url, T1)
    assert len(stored) == 100
    # The next run with the default limit reads the same first page again: nothing new.
    again = fetch_cli(["fetch", str(T1)])
    assert again.exit_code == 0, again.stderr
    assert "0 of 100 records added" in again.stdout
    assert page_calls(fake_x, T1) == 2  # one page each run, never the second
    assert retweets(db_url, T1) == stored


def test_empty_page_with_next_token_does_not_end_pagination(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    pages = [([USERS[0]], "a"), ([], "b"), ([USERS[1]], None)]
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0], USERS[1]], pages=pages))
    result = fetch_cli(["fetch", str(T1)])
    assert result.exit_code == 0, result.stderr
    assert "2 of 2 records added" in result.stdout
    assert page_calls(fake_x, T1) == 3
    assert retweets(db_url, T1) == {USERS[0].id, USERS[1].id}


def test_lookup_tweets_from_the_cassette(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    tweets = [fake_x.state.add(t) for t in cassette_lookup_tweets()]
    result = fetch_cli(["fetch", "--json", *(str(t.id) for t in tweets)])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert [t["id"] for t in out["tweets"]] == [str(t.id) for t in tweets]
    assert all(t["status"] == "ok" and t["added"] == 3 for t in out["tweets"])
    (lookup,) = fake_x.state.requests_to(r"^/2/tweets$")
    assert lookup.query["ids"] == ",".join(str(t.id) for t in tweets)


def test_lookups_go_in_batches_of_100(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    ids = [str(T1)] + [str(5000 + i) for i in range(149)]
    result = fetch_cli(["fetch", "--json", "-"], input="\n".join(ids))
    assert result.exit_code == 0, result.stderr
    lookups = fake_x.state.requests_to(r"^/2/tweets$")
    assert [len(r.query["ids"].split(",")) for r in lookups] == [100, 50]
    statuses = [t["status"] for t in json.loads(result.stdout)["tweets"]]
    assert statuses == ["ok"] + ["not_found"] * 149


def test_deleted_and_protected_tweets_are_reported_and_marked(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    fake_x.state.add(SandboxTweet(T2, BOB, [USERS[1]], status="unauthorized"))
    assert fetch_cli(["watch", "add", str(T1), str(T2), str(T3)]).exit_code == 0
    result = fetch_cli(["fetch", "--watched", "--json"])
    assert result.exit_code == 0, result.stderr
    statuses = {t["id"]: t["status"] for t in json.loads(result.stdout)["tweets"]}
    assert statuses == {str(T1): "ok", str(T2): "unauthorized", str(T3): "not_found"}
    marked = dict(rows(db_url, "SELECT tweet_id, status FROM watched_tweets"))
    assert marked == {T1: "active", T2: "unauthorized", T3: "not_found"}
    text = fetch_cli(["fetch", "--force", str(T3)])
    assert text.exit_code == 0
    # One phrase: the status, then why, then the API's own words.
    assert text.stdout.startswith(
        f"{T3}: not found: deleted, or its author suspended (X API: Could not find tweet"
    )
    (line, total) = text.stdout.splitlines()
    assert line.count("not found") == 1
    assert total == "0 of 0 records added in total (0 tweets fetched, 1 not found)"


def test_the_total_counts_only_the_tweets_fetched_and_names_the_others_apart(
    fetch_cli: Fetch, fake_x: SandboxServer
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:2]))
    fake_x.state.add(SandboxTweet(T2, BOB, [USERS[2]], status="unauthorized"))
    result = fetch_cli(["fetch", str(T1), str(T2), str(T3)])  # T3: not found
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "2 of 2 records added in total (1 tweet fetched, 1 not found, 1 unauthorized)"
    )


def test_json_output_uses_string_ids(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    big = 1790000000000000001
    fake_x.state.add(SandboxTweet(big, SandboxUser(2**62 + 1, "big", "Big"), [USERS[0]]))
    result = fetch_cli(["fetch", "--json", str(big)])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "seen": 1,
        "added": 1,
        "skipped_unchanged": 0,
        "fallback": None,
        "tweets": [
            {
                "id": str(big),
                "author_id": str(2**62 + 1),
                "author_username": "big",
                "seen": 1,
                "added": 1,
                "status": "ok",
                "detail": "",
            }
        ],
    }


def test_rate_limit_keeps_what_was_merged_and_exits_75(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    for tweet_id in (T1, T2, T3):
        fake_x.state.add(SandboxTweet(tweet_id, ALICE, [USERS[tweet_id - T1]]))
    reset = int(time.time()) + 600
    fake_x.state.fault(
        Fault(
            rf"/{T2}/retweets$",
            429,
            b'{"title":"Too Many Requests"}',
            {"x-rate-limit-reset": str(reset)},
        )
    )
    result = fetch_cli(["fetch", str(T1), str(T2), str(T3)])
    assert result.exit_code == 75
    when = datetime.fromtimestamp(reset, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert (
        result.stderr.strip()
        == f"retweetctl: error: X API rate limit reached; the window resets at {when} UTC"
    )
    assert f"{T1} by @alice: 1 of 1 records added" in result.stdout
    assert retweets(db_url, T1) == {USERS[0].id}
    assert retweets(db_url, T2) == retweets(db_url, T3) == set()
    assert page_calls(fake_x, T3) == 0  # stopped calling the API
    assert page_calls(fake_x, T2) == 1  # and never retried the 429
    assert rows(db_url, "SELECT seen, added, status FROM fetch_runs") == [(1, 1, "failed")]


def test_rate_limit_midway_merges_pages_and_marks_the_tweet_incomplete(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    pages = [([USERS[0]], "p2"), ([USERS[1]], None)]
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0], USERS[1]], pages=pages))
    assert fetch_cli(["watch", "add", str(T1)]).exit_code == 0
    # The first page comes through, the second is refused.
    first_page_then_429 = Fault(r"/retweets$", 429, b"{}", {"x-rate-limit-reset": "1"})
    result = _with_fault_after(fetch_cli, fake_x, first_page_then_429, ["fetch", "--watched"])
    assert result.exit_code == 75
    assert f"{T1} by @alice: 1 of 1 records added; rate limited: stopped midway" in result.stdout
    assert retweets(db_url, T1) == {USERS[0].id}
    assert rows(db_url, "SELECT retweet_count, complete_retweet_count FROM watched_tweets") == [
        (2, None)
    ]
    again = fetch_cli(
        ["fetch", "--watched"]
    )  # same retweet_count, but the last check was incomplete
    assert again.exit_code == 0, again.stderr
    assert "1 of 2 records added" in again.stdout
    assert rows(db_url, "SELECT complete_retweet_count FROM watched_tweets") == [(2,)]


def _with_fault_after(
    fetch: Fetch, fake: SandboxServer, fault: Fault, args: list[str]
) -> CliResult:
    """Run with `fault` armed for the second retweeted_by request (the first passes)."""
    fault.times = 1
    passthrough = Fault(r"/retweets$", status=None, times=1)
    fake.state.fault(passthrough)
    fake.state.fault(fault)
    return fetch(args)


def test_usage_cap_says_waiting_will_not_help(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    body = json.dumps(
        {
            "title": "UsageCapExceeded",
            "detail": "Usage cap exceeded: Monthly product cap",
            "type": "https://api.twitter.com/2/problems/usage-capped",
            "period": "Monthly",
            "scope": "Product",
        }
    ).encode()
    fake_x.state.fault(Fault(r"^/2/tweets$", 429, body))
    result = fetch_cli(["fetch", str(T1)])
    assert result.exit_code == 75
    assert "usage cap" in result.stderr and "will not help" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert fake_x.state.requests_to("/retweets$") == []


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_exit_77(fetch_cli: Fetch, fake_x: SandboxServer, status: int) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    fake_x.state.fault(Fault(r"^/2/tweets$", status, b'{"title":"Unauthorized"}'))
    result = fetch_cli(["fetch", str(T1), "--quiet"])
    assert result.exit_code == 77
    assert result.stderr.startswith("retweetctl: error: the X API refused the credentials")
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_wrong_token_is_refused_by_the_fake(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    result = fetch_cli(["fetch", str(T1)], X_BEARER_TOKEN="AAAAanotherTokenThatIsWrong")
    assert result.exit_code == 77
    assert "AAAAanotherTokenThatIsWrong" not in result.stdout + result.stderr


@pytest.mark.parametrize("token", [None, "", "   "])
def test_missing_token_exits_78_before_any_request(
    fetch_cli: Fetch, fake_x: SandboxServer, token: str | None
) -> None:
    result = fetch_cli(["fetch", str(T1)], X_BEARER_TOKEN=token, TWITTER_BEARER_TOKEN=None)
    assert result.exit_code == 78
    assert "X_BEARER_TOKEN" in result.stderr
    assert fake_x.state.requests == []


def test_twitter_bearer_token_is_accepted(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    result = fetch_cli(["fetch", str(T1)], X_BEARER_TOKEN=None, TWITTER_BEARER_TOKEN=TOKEN)
    assert result.exit_code == 0, result.stderr


def test_server_errors_are_retried(fetch_cli: Fetch, fake_x: SandboxServer, db_url: str) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    fake_x.state.fault(Fault(r"/retweets$", 503, b"", times=2))
    result = fetch_cli(["fetch", str(T1)])
    assert result.exit_code == 0, result.stderr
    assert page_calls(fake_x, T1) == 3
    assert retweets(db_url, T1) == {USERS[0].id}


def test_persistent_server_errors_exit_75_after_bounded_retries(
    fetch_cli: Fetch, fake_x: SandboxServer
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    fake_x.state.add(SandboxTweet(T2, ALICE, [USERS[1]]))
    fake_x.state.fault(Fault(r"/retweets$", 500, b"<html>oops</html>", times=100))
    result = fetch_cli(["fetch", str(T1), str(T2)])
    assert result.exit_code == 75
    assert result.stderr.strip() == "retweetctl: error: the X API failed (HTTP 500)"
    assert page_calls(fake_x, T1) == 4  # the first try and 3 retries
    assert page_calls(fake_x, T2) == 0  # then treated like a rate limit: stop


def test_slow_answers_time_out_and_are_retried(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    fake_x.state.fault(Fault(r"/retweets$", status=None, delay=3, times=1))
    result = fetch_cli(["fetch", str(T1)], RETWEETCTL_HTTP_TIMEOUT="0.5")
    assert result.exit_code == 0, result.stderr
    assert "1 of 1 records added" in result.stdout


def test_persistently_slow_api_exits_75(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    fake_x.state.fault(Fault(r"^/2/tweets$", status=None, delay=2, times=10))
    started = time.monotonic()
    result = fetch_cli(["fetch", str(T1)], RETWEETCTL_HTTP_TIMEOUT="0.3")
    assert result.exit_code == 75
    assert result.stderr.strip() == "retweetctl: error: the X API did not answer in time"
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    "body", [b"<html><body>502 Bad Gateway</body></html>", b'{"data": [{"id": "1", "na', b"[1, 2]"]
)
def test_garbage_body_fails_that_tweet_and_the_others_go_on(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str, body: bytes
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    fake_x.state.add(SandboxTweet(T2, BOB, [USERS[1]]))
    fake_x.state.fault(Fault(rf"/{T1}/retweets$", 200, body, times=100, content_type="text/html"))
    result = fetch_cli(["fetch", "--watched", str(T1), str(T2)])
    assert result.exit_code == 75
    assert "malformed" in result.stderr
    assert f"{T1} by @alice: error: " in result.stdout
    assert f"{T2} by @bob: 1 of 1 records added" in result.stdout
    assert page_calls(fake_x, T1) == 4
    assert retweets(db_url, T2) == {USERS[1].id}


def test_garbage_once_is_retried(fetch_cli: Fetch, fake_x: SandboxServer, db_url: str) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    fake_x.state.fault(Fault(r"^/2/tweets$", 200, b"<html>proxy</html>", content_type="text/html"))
    result = fetch_cli(["fetch", str(T1)])
    assert result.exit_code == 0, result.stderr
    # The garbage lookup was asked again, and the answer that followed was used.
    assert len(fake_x.state.requests_to(r"^/2/tweets$")) == 2
    assert f"{T1} by @alice: 1 of 1 records added" in result.stdout
    assert retweets(db_url, T1) == {USERS[0].id}


@pytest.mark.parametrize(
    "bad", ["abc", "0", "-5", "99999999999999999999", "", "9223372036854775808", "1.5", "١٢"]
)
def test_bad_ids_exit_2_naming_the_argument(
    fake_x: SandboxServer,
    bad: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # In-process (the validation happens before settings, database or network): fast.
    monkeypatch.setenv("RETWEETCTL_API_BASE_URL", fake_x.url)
    monkeypatch.setenv("X_BEARER_TOKEN", TOKEN)
    monkeypatch.setenv("RETWEETCTL_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert run(["fetch", "--", "1001", bad]) == 2
    assert repr(bad) in capsys.readouterr().err
    assert fake_x.state.requests == []


def test_bad_id_as_cron_runs_it(fetch_cli: Fetch, fake_x: SandboxServer, db_url: str) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    result = fetch_cli(["fetch", str(T1), "12ab"])
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.strip().startswith("retweetctl: error: invalid TWEET_ID '12ab'")
    assert fake_x.state.requests == []
    assert rows(db_url, "SELECT count(*) FROM fetch_runs") == [(0,)]


def test_bad_id_on_stdin_names_the_line(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    result = fetch_cli(["fetch", "-"], input="1001\nnope\n")
    assert result.exit_code == 2
    assert "stdin line 2" in result.stderr and "'nope'" in result.stderr
    assert fake_x.state.requests == []


def test_ids_from_stdin_and_arguments_count_once(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    fake_x.state.add(SandboxTweet(T2, BOB, [USERS[1]]))
    result = fetch_cli(["fetch", "--json", str(T1), "-", str(T1)], input=f"{T2}\n\n{T1}\n{T2}\n")
    assert result.exit_code == 0, result.stderr
    assert [t["id"] for t in json.loads(result.stdout)["tweets"]] == [str(T1), str(T2)]
    (lookup,) = fake_x.state.requests_to(r"^/2/tweets$")
    assert lookup.query["ids"] == f"{T1},{T2}"


def test_no_ids_and_no_watched_is_a_usage_error(fetch_cli: Fetch) -> None:
    result = fetch_cli(["fetch"])
    assert result.exit_code == 2
    assert "--watched" in result.stderr


def test_quiet_prints_nothing_on_success(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    result = fetch_cli(["fetch", "--quiet", str(T1)])
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")


def test_tweepy_warnings_do_not_break_quiet(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    """A lookup without edit_history_tweet_ids (tweepy warns on it when it builds models)."""
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    body = json.dumps(
        {
            "data": [{"id": str(T1), "text": "x", "author_id": str(ALICE.id),
                      "public_metrics": {"retweet_count": 1}}],
            "includes": {"users": [ALICE.json()]},
        }
    ).encode()  # fmt: skip
    fake_x.state.fault(Fault(r"^/2/tweets$", 200, body))
    result = fetch_cli(["fetch", "--quiet", str(T1)], PYTHONWARNINGS="always")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")


def test_token_never_appears_even_with_debug(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    fake_x.state.fault(Fault(r"/retweets$", 500, b"", times=100))
    result = fetch_cli(["--debug", "fetch", str(T1)])
    assert result.exit_code == 75
    output = result.stdout + result.stderr
    assert "Authorization" in output  # tweepy's debug log did print the headers
    assert "Bearer ***" in output
    assert TOKEN not in output
    assert TOKEN[4:20] not in output


def test_unchanged_watched_tweets_are_skipped_unless_forced(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    tweet = fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    fake_x.state.add(SandboxTweet(T2, BOB, [USERS[1]]))
    assert fetch_cli(["watch", "add", str(T1), str(T2)]).exit_code == 0
    assert "2 of 2 records added" in fetch_cli(["fetch", "--watched"]).stdout
    tweet.retweeters.append(USERS[2])
    second = fetch_cli(["fetch", "--watched"])
    assert second.exit_code == 0, second.stderr
    assert (
        "1 of 2 records added in total (1 tweet fetched, 1 skipped as unchanged)" in second.stdout
    )
    assert f"{T2} by @bob: skipped: retweet_count unchanged (1)" in second.stdout
    assert page_calls(fake_x, T2) == 1
    forced = fetch_cli(["fetch", "--watched", "--force", "--json"])
    assert json.loads(forced.stdout)["skipped_unchanged"] == 0
    assert page_calls(fake_x, T2) == 2


def test_watched_runs_take_the_stalest_first(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    for tweet_id in (T1, T2, T3):
        fake_x.state.add(SandboxTweet(tweet_id, ALICE, [USERS[0]]))
    assert fetch_cli(["watch", "add", str(T1), str(T2), str(T3)]).exit_code == 0
    assert fetch_cli(["fetch", str(T2)]).exit_code == 0
    result = fetch_cli(["fetch", "--watched", "--json"])
    assert [t["id"] for t in json.loads(result.stdout)["tweets"]] == [str(T1), str(T3), str(T2)]


def test_a_tweet_locked_by_another_run_is_skipped(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    fake_x.state.add(SandboxTweet(T2, BOB, [USERS[1]]))
    with psycopg.connect(db_url, autocommit=True) as other_run:
        other_run.execute(
            "SELECT pg_advisory_lock(hashtextextended('retweetctl.fetch:' || %s::text, 0))", (T1,)
        )
        result = fetch_cli(["fetch", str(T1), str(T2)])
    assert result.exit_code == 0, result.stderr
    assert f"{T1} by @alice: skipped: another run is fetching this tweet" in result.stdout
    assert page_calls(fake_x, T1) == 0
    assert retweets(db_url, T2) == {USERS[1].id}


def test_overlapping_runs_add_each_row_once(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str, cli_env: dict[str, str]
) -> None:
    import concurrent.futures

    users = [SandboxUser(5000 + i, f"o{i}", "") for i in range(250)]
    for tweet_id in (T1, T2, T3):
        fake_x.state.add(SandboxTweet(tweet_id, ALICE, users))
    fake_x.state.fault(Fault(r"/retweets$", status=None, delay=0.2, times=100))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = list(
            pool.map(
                lambda _: fetch_cli(["fetch", "--json", "--limit", "0", str(T1), str(T2), str(T3)]),
                range(2),
            )
        )
    assert [r.exit_code for r in runs] == [0, 0], [r.stderr for r in runs]
    added = sum(json.loads(r.stdout)["added"] for r in runs)
    assert added == 750
    assert rows(db_url, "SELECT count(*) FROM retweets") == [(750,)]
    assert rows(db_url, "SELECT sum(added) FROM fetch_runs") == [(750,)]


def test_database_unreachable_exits_69(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    result = fetch_cli(
        ["fetch", str(T1)], RETWEETCTL_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none"
    )
    assert result.exit_code == 69
    assert result.stderr.startswith("retweetctl: error: cannot connect to PostgreSQL")
    assert len(result.stderr.strip().splitlines()) == 1


def test_plain_http_is_refused_for_remote_hosts(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    result = fetch_cli(["fetch", str(T1)], RETWEETCTL_API_BASE_URL="http://api.example.com")
    assert result.exit_code == 78
    assert "loopback" in result.stderr


def test_killed_run_keeps_merged_tweets_and_nothing_of_the_one_in_flight(
    fake_x: SandboxServer, db_url: str, cli_env: dict[str, str]
) -> None:
    import subprocess
    import sys

    fake_x.state.add(SandboxTweet(T1, ALICE, [USERS[0]]))
    pages = [([USERS[1]], "next"), ([USERS[2]], None)]
    fake_x.state.add(SandboxTweet(T2, BOB, [USERS[1], USERS[2]], pages=pages))
    fake_x.state.fault(Fault(r"/retweets$", status=None, times=2))  # T1's page, T2's first page
    fake_x.state.fault(Fault(r"/retweets$", status=None, delay=30))  # T2's second page stalls
    env = dict(cli_env, RETWEETCTL_API_BASE_URL=fake_x.url, X_BEARER_TOKEN=TOKEN)
    proc = subprocess.Popen(
        [sys.executable, "-m", "retweetctl", "fetch", str(T1), str(T2)], env=env
    )
    try:
        deadline = time.monotonic() + 60
        while len(fake_x.state.requests_to("/retweets$")) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(fake_x.state.requests_to("/retweets$")) == 3
    finally:
        proc.kill()
        proc.wait()
    assert retweets(db_url, T1) == {USERS[0].id}
    assert retweets(db_url, T2) == set()
    wait_for_backends_to_end(db_url)  # the killed run's transaction (and its lock) ends with it
    fake_x.state.faults.clear()
    rerun = run_again(env)
    assert rerun.exit_code == 0, rerun.stderr
    assert retweets(db_url, T2) == {USERS[1].id, USERS[2].id}
    assert rows(db_url, "SELECT count(*) FROM retweet_staging") == [(0,)]


def run_again(env: dict[str, str]) -> CliResult:
    from tests.conftest import run_cli

    return run_cli(["fetch", str(T2)], env)


def wait_for_backends_to_end(db_url: str) -> None:
    deadline = time.monotonic() + 30
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = 'retweetctl'"
    )
    while rows(db_url, query) != [(0,)] and time.monotonic() < deadline:
        time.sleep(0.05)
