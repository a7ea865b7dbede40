# ruff: noqa: F811 - pytest fixtures imported from tests.fake_x_api are redefined as arguments
"""Answers that mean "fix your settings" end a fetch with exit 78 at once, naming the URL."""

from __future__ import annotations

from collections.abc import Callable

from retweetctl.errors import ExitCode
from retweetctl.sandbox import Fault, SandboxServer, SandboxTweet
from tests.conftest import CliResult
from tests.fake_x_api import ALICE, TOKEN, fake_x, fetch_cli  # noqa: F401 - fixtures

Fetch = Callable[..., CliResult]


def test_404_from_the_lookup_endpoint_is_a_config_error_naming_the_url(
    fetch_cli: Fetch, fake_x: SandboxServer
) -> None:
    fake_x.state.add(SandboxTweet(4001, ALICE, [ALICE]))
    fake_x.state.fault(Fault(r"^/2/tweets$", status=404, body=b'{"title": "Not Found"}', times=10))
    result = fetch_cli(["fetch", "4001", "4002"])
    assert result.exit_code == ExitCode.CONFIG, result.stderr
    assert f"HTTP 404 for {fake_x.url}/2/tweets" in result.stderr
    assert "RETWEETCTL_API_BASE_URL" in result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert "ids=" not in result.stderr  # no query string
    # Not retried: retrying a wrong URL cannot help.
    assert len(fake_x.state.requests_to(r"^/2/tweets$")) == 1


def test_http_400_is_a_config_error_not_retried(fetch_cli: Fetch, fake_x: SandboxServer) -> None:
    fake_x.state.add(SandboxTweet(4003, ALICE, [ALICE]))
    fake_x.state.add(SandboxTweet(4004, ALICE, [ALICE]))
    body = b'{"errors": [{"message": "Invalid max_results"}], "title": "Invalid Request"}'
    fake_x.state.fault(Fault(r"/retweets$", status=400, body=body, times=10))
    result = fetch_cli(["fetch", "4003", "4004"])
    assert result.exit_code == ExitCode.CONFIG, result.stderr
    assert "HTTP 400" in result.stderr and "/2/tweets/4003/retweets" in result.stderr
    assert len(fake_x.state.requests_to(r"/retweets$")) == 1  # the run stops: no second tweet
