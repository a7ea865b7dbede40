# ruff: noqa: F811 - pytest fixtures imported from tests.fake_x_api are redefined as arguments
"""The X API client in-process: URL rewriting, timeouts, base URL rules, the retry budget."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from retweetctl.config import Secret, Settings
from retweetctl.errors import ConfigError
from retweetctl.sandbox import (
    ENDPOINT_REFUSED_BODY,
    Fault,
    SandboxServer,
    SandboxTweet,
    SandboxUser,
)
from retweetctl.xapi import (
    ApiFailure,
    RetryPolicy,
    RewritingSession,
    XApi,
    check_base_url,
    retry_policy_from_env,
)
from tests.fake_x_api import TOKEN, fake_x  # noqa: F401 - fixture


@pytest.mark.parametrize("origin", ["https://api.twitter.com", "https://api.x.com"])
def test_session_sends_both_origins_to_the_base_url(fake_x: SandboxServer, origin: str) -> None:
    session = RewritingSession(fake_x.url, timeout=5)
    response = session.get(
        f"{origin}/2/tweets", params={"ids": "1"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200
    (request,) = fake_x.state.requests
    assert (request.path, request.query) == ("/2/tweets", {"ids": "1"})


def test_session_sets_a_timeout(fake_x: SandboxServer) -> None:
    fake_x.state.fault(Fault(r"", status=None, delay=2))
    with pytest.raises(requests.Timeout):
        RewritingSession(fake_x.url, timeout=0.2).get("https://api.twitter.com/2/tweets")


@pytest.mark.parametrize(
    "url",
    ["https://api.example.com", "http://127.0.0.1:8080/", "http://localhost:1", "http://[::1]:9"],
)
def test_accepted_base_urls(url: str) -> None:
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1", "http://api.example.com", "ftp://127.0.0.1", "api.x.com"]
)
def test_refused_base_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        check_base_url(url)


@pytest.mark.parametrize("raw", ["-1", "abc", "nan", "1000"])
def test_bad_retry_backoff_is_a_config_error(raw: str) -> None:
    with pytest.raises(ConfigError, match="RETWEETCTL_RETRY_BACKOFF"):
        retry_policy_from_env({"RETWEETCTL_RETRY_BACKOFF": raw})


def test_retry_budget_bounds_all_retrying_of_a_run(fake_x: SandboxServer, tmp_path: Path) -> None:
    """With the production backoff (2, 4, 8 s) and a 10 s budget, the third retry is not waited for."""
    fake_x.state.add(SandboxTweet(1, SandboxUser(2, "a", "A"), []))
    fake_x.state.fault(Fault(r"/retweets$", 503, b"", times=100))
    sleeps: list[float] = []
    settings = Settings(home=tmp_path, bearer_token=Secret(TOKEN), api_base_url=fake_x.url)
    api = XApi(settings, RetryPolicy(budget=10, sleep=sleeps.append))
    with pytest.raises(ApiFailure) as failure:
        list(api.retweeters(1, limit=0))
    assert failure.value.kind == "unavailable"
    assert sleeps == [2, 4]
    with pytest.raises(ApiFailure):  # what is left of the budget: one more wait of 2 s
        list(api.retweeters(1, limit=0))
    assert sleeps == [2, 4, 2]
    assert len(fake_x.state.requests) == 3 + 2


def test_connection_refused_is_unavailable(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, bearer_token=Secret(TOKEN), api_base_url="http://127.0.0.1:1"
    )
    api = XApi(settings, RetryPolicy(backoff=0))
    with pytest.raises(ApiFailure) as failure:
        api.lookup([1])
    assert (failure.value.kind, failure.value.message) == (
        "unavailable",
        "cannot connect to the X API",
    )


def _api(fake_x: SandboxServer, tmp_path: Path) -> XApi:
    settings = Settings(home=tmp_path, bearer_token=Secret(TOKEN), api_base_url=fake_x.url)
    return XApi(settings, RetryPolicy(backoff=0))


def test_a_refusal_after_pages_were_read_is_not_a_fallback(
    fake_x: SandboxServer, tmp_path: Path
) -> None:
    users = [SandboxUser(100 + i, f"u{i}", "") for i in range(7)]
    pages = [(users[:3], "next"), (users[3:], None)]
    fake_x.state.add(SandboxTweet(1, SandboxUser(2, "a", "A"), users, pages=pages))
    fake_x.state.fault(Fault(r"/retweets$", status=None))  # page 1 passes
    fake_x.state.fault(Fault(r"/retweets$", 403, ENDPOINT_REFUSED_BODY))
    api = _api(fake_x, tmp_path)
    read = api.retweeters(1, limit=0)
    first = next(read)
    assert first.retweets is not None and len(first.users) == 3 and first.next_token == "next"
    # A tweet's pages come from one endpoint: midway, a 403 is a credentials failure.
    with pytest.raises(ApiFailure) as failure:
        next(read)
    assert failure.value.kind == "credentials"
    assert api.via == "retweets" and api.fallback is None


def test_a_malformed_created_at_is_a_malformed_response(
    fake_x: SandboxServer, tmp_path: Path
) -> None:
    body = b'{"data": [{"id": "9", "author_id": "100", "created_at": "yesterday"}]}'
    fake_x.state.add(SandboxTweet(1, SandboxUser(2, "a", "A"), []))
    fake_x.state.fault(Fault(r"/retweets$", 200, body))
    with pytest.raises(ApiFailure) as failure:
        list(_api(fake_x, tmp_path).retweeters(1, limit=0))
    assert failure.value.kind == "malformed" and "created_at" in failure.value.message
