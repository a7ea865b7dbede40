"""The fake X API for fetch/watch tests: retweetctl's sandbox, seeded from tweepy's recorded cassettes.

Import the fixtures into a test module: `from tests.fake_x_api import fake_x, fetch_cli  # noqa: F401`.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from retweetctl.sandbox import SandboxServer, SandboxTweet, SandboxUser
from tests.conftest import CliResult

# Copied unmodified from shared/fixtures (tweepy's own recordings; LICENSE and README beside them).
CASSETTES = Path(__file__).resolve().parent / "data" / "x-api" / "tweepy-cassettes"
# A token distinctive enough that finding it anywhere in output is a leak.
TOKEN = "AAAAtestBearerTokenZq9XkLmN0pQrStUvWxYz"
# The tweet of both retweeted_by cassettes: a 62-user page with a next_token, a 38-user page without.
CASSETTE_TWEET = 1415348607813832708
# The recorded lookups hold no author_id; give them one (Twitter's own account in tweepy's v1.1 cassettes).
CASSETTE_AUTHOR = SandboxUser(783214, "Twitter", "Twitter")
# Retry fast in tests; the production backoff is seconds.
FAST_BACKOFF = "0.01"
# The two authors the fetch tests use; their retweeters are made per test.
ALICE = SandboxUser(11, "alice", "Alice")
BOB = SandboxUser(12, "bob", "Bob")


def cassette_body(name: str) -> dict[str, Any]:
    """The JSON body of the first interaction of a cassette (gzip+base64 or plain text)."""
    data = yaml.safe_load((CASSETTES / name).read_text(encoding="utf-8"))
    raw = data["interactions"][0]["response"]["body"]["string"]
    if isinstance(raw, bytes):
        raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        raw = raw.decode("utf-8")
    body: dict[str, Any] = json.loads(raw)
    return body


def users_of(body: dict[str, Any]) -> list[SandboxUser]:
    return [SandboxUser(int(u["id"]), u["username"], u["name"]) for u in body.get("data", [])]


def cassette_retweeters_tweet() -> SandboxTweet:
    """Tweet 1415348607813832708 served as two recorded pages: 62 users + next_token, then 38."""
    first = cassette_body("test_asyncclient_get_retweeters.yaml")
    second = cassette_body("test_client_get_retweeters.yaml")
    token = first["meta"]["next_token"]
    pages = [(users_of(first), token), (users_of(second), None)]
    unique = {u.id for users, _ in pages for u in users}
    return SandboxTweet(
        CASSETTE_TWEET,
        CASSETTE_AUTHOR,
        retweeters=[u for users, _ in pages for u in users],
        retweet_count=len(unique),
        pages=pages,
    )


def cassette_lookup_tweets() -> list[SandboxTweet]:
    """The two tweets of the recorded lookup, each retweeted by a few of the recorded users."""
    body = cassette_body("test_client_get_tweets.yaml")
    users = users_of(cassette_body("test_client_get_retweeters.yaml"))
    return [
        SandboxTweet(
            int(t["id"]), CASSETTE_AUTHOR, retweeters=users[i * 3 : i * 3 + 3], text=t["text"]
        )
        for i, t in enumerate(body["data"])
    ]


@pytest.fixture
def fake_x() -> Iterator[SandboxServer]:
    """A fake X API on 127.0.0.1 (the sandbox), empty: tests add tweets and faults."""
    with SandboxServer() as server:
        server.state.expected_token = TOKEN
        yield server


@pytest.fixture
def fetch_cli(cli: Any, fake_x: SandboxServer) -> Callable[..., CliResult]:
    """cli() with the fake X API, a bearer token and fast retries set."""

    def invoke(args: list[str], input: str | None = None, **overrides: str | None) -> CliResult:
        env: dict[str, str | None] = {
            "RETWEETCTL_API_BASE_URL": fake_x.url,
            "X_BEARER_TOKEN": TOKEN,
            "RETWEETCTL_RETRY_BACKOFF": FAST_BACKOFF,
            "RETWEETCTL_HTTP_TIMEOUT": "5",
        }
        env.update(overrides)
        result: CliResult = cli(args, input=input, **env)
        return result

    return invoke
