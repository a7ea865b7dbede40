"""The X API v2 through tweepy: tweet lookups and retweeter pages, with bounded retries.

Retweeters come from one of two endpoints: `GET /2/tweets/:id/retweets` (the
default: the retweet posts themselves, so each row gets the retweet's id and
time; tweepy has no method for it, issue 2163, so it goes through
Client.request) or `GET /2/tweets/:id/retweeted_by` (users only).

tweepy hard-codes https://api.twitter.com in Client.request but sends every
request through its public `session` attribute; RewritingSession points those
requests at the configured base URL and gives them a timeout (tweepy sets none).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import tweepy

from retweetctl.config import DEFAULT_API_BASE_URL, Settings
from retweetctl.errors import ConfigError
from retweetctl.ids import parse_id_text

# The hosts tweepy writes into its URLs (it uses the first; X's own docs the second).
API_ORIGINS = ("https://api.twitter.com", "https://api.x.com")
# The API's maxima: 100 tweets per lookup, 100 users per retweeted_by page.
LOOKUP_BATCH = 100
PAGE_SIZE = 100
# The retweets endpoint refuses max_results below 5 (its API reference); fewer are cut here.
RETWEETS_MIN_PAGE = 5
# Where fetch reads retweeters from (`fetch --via`).
VIA_RETWEETS = "retweets"
VIA_RETWEETED_BY = "retweeted_by"
ENDPOINTS = (VIA_RETWEETS, VIA_RETWEETED_BY)
RETWEET_FIELDS = ["created_at", "author_id"]
# Retries of one call for 5xx, timeouts, connection errors and malformed bodies.
MAX_RETRIES = 3
DEFAULT_RETRY_BACKOFF = 2.0  # seconds before the first retry; doubles each time
RETRY_BACKOFF_VARIABLE = "RETWEETCTL_RETRY_BACKOFF"
# All retrying of a run together (failed attempts plus sleeps) stays below this,
# so a cron run never spends much more than a minute on an outage.
RETRY_BUDGET_SECONDS = 45.0
USAGE_CAPPED_SUFFIX = "/problems/usage-capped"
TWEET_FIELDS = ["author_id", "public_metrics"]
USER_FIELDS = ["username", "name"]

# tweepy logs warnings (e.g. "Unexpected parameter"); without a handler Python would print
# them on stderr and break --quiet. --debug's root handler still receives them.
logging.getLogger("tweepy").addHandler(logging.NullHandler())


class ApiFailure(Exception):
    """A failed call, classified: kind is 'rate_limited', 'credentials', 'unavailable',
    'malformed', or 'config' (the request itself is wrong: a base URL, a parameter)."""

    def __init__(self, kind: str, message: str, reset_at: datetime | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.reset_at = reset_at

    @property
    def message(self) -> str:
        return str(self.args[0])


class TweetGone(Exception):
    """The tweet itself cannot be read (deleted, protected, suspended author)."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class TweetInfo:
    id: int
    author_id: int
    author_username: str | None
    author_name: str | None
    retweet_count: int | None


@dataclass(frozen=True)
class Missing:
    """A tweet the lookup reported in its `errors` array."""

    id: int
    status: str  # 'not_found' or 'unauthorized'
    detail: str


class EndpointRefused(Exception):
    """The retweets endpoint is not in the app's access level (a 403 naming it or the product)."""


@dataclass(frozen=True)
class Page:
    """One page of retweeters; `retweets` (retweet id, time) per user when the endpoint gives them."""

    users: list[tuple[int, str | None, str | None]]
    next_token: str | None
    retweets: list[tuple[int, datetime | None]] | None = None


@dataclass
class RetryPolicy:
    backoff: float = DEFAULT_RETRY_BACKOFF
    max_retries: int = MAX_RETRIES
    budget: float = RETRY_BUDGET_SECONDS
    spent: float = field(default=0.0)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)


def retry_policy_from_env(env: Mapping[str, str] | None = None) -> RetryPolicy:
    """The policy with RETWEETCTL_RETRY_BACKOFF (seconds, 0 allowed) if set."""
    raw = (os.environ if env is None else env).get(RETRY_BACKOFF_VARIABLE, "").strip()
    if not raw:
        return RetryPolicy()
    try:
        backoff = float(raw)
    except ValueError:
        backoff = -1.0
    if not 0 <= backoff <= RETRY_BUDGET_SECONDS:
        raise ConfigError(
            f"{RETRY_BACKOFF_VARIABLE} must be a number of seconds from 0 to "
            f"{RETRY_BUDGET_SECONDS:g}, got {raw!r}"
        )
    return RetryPolicy(backoff=backoff)


class RewritingSession(requests.Session):
    """A requests.Session that sends tweepy's api.twitter.com URLs to base_url, with a timeout."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base_url = check_base_url(base_url)
        self.timeout = timeout

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        text = url.decode() if isinstance(url, bytes) else url
        for origin in API_ORIGINS:
            if text == origin or text.startswith(origin + "/"):
                text = self.base_url + text[len(origin) :]
                break
        kwargs.setdefault("timeout", self.timeout)
        if kwargs["timeout"] is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, text, *args, **kwargs)


def check_base_url(base_url: str) -> str:
    """The base URL without a trailing slash; ConfigError unless https, or http to loopback."""
    base = base_url.rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"RETWEETCTL_API_BASE_URL must be an http(s) URL, got {base_url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            "RETWEETCTL_API_BASE_URL: plain http:// is allowed only for loopback hosts "
            f"(the bearer token would travel unencrypted), got {parts.hostname}"
        )
    return base


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class XApi:
    """The calls retweetctl makes, each retried within the run's RetryPolicy."""

    def __init__(
        self, settings: Settings, retry: RetryPolicy | None = None, via: str = VIA_RETWEETS
    ) -> None:
        if settings.bearer_token is None:
            raise ConfigError(
                "no X API bearer token: set X_BEARER_TOKEN (or TWITTER_BEARER_TOKEN) "
                "or bearer_token in the config file"
            )
        self.retry = retry or RetryPolicy()
        # return_type=dict: plain JSON, so tweepy's model classes (and their warnings) stay out.
        self.client = tweepy.Client(
            bearer_token=settings.bearer_token.reveal(),
            return_type=dict,
            wait_on_rate_limit=False,  # it would retry without bound; cron wants exit 75
        )
        self.client.session = RewritingSession(
            settings.api_base_url or DEFAULT_API_BASE_URL, settings.http_timeout
        )
        if via not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {via!r}")
        self.via = via
        self.fallback: str | None = None  # why the run fell back to retweeted_by, if it did

    def lookup(self, ids: Sequence[int]) -> tuple[list[TweetInfo], list[Missing]]:
        """Look up to 100 tweets: the readable ones, and the ones the API reported as missing."""
        try:
            body = self._call(
                lambda: self.client.get_tweets(
                    ids=list(ids),
                    tweet_fields=TWEET_FIELDS,
                    expansions=["author_id"],
                    user_fields=USER_FIELDS,
                )
            )
        except tweepy.NotFound as exc:
            # The lookup endpoint reports missing tweets in `errors`, never by 404:
            # a 404 is a wrong base URL (or proxy), and retrying will not fix it.
            raise ApiFailure(
                "config",
                f"the X API answered HTTP 404 for {_endpoint(exc.response)}: "
                "check RETWEETCTL_API_BASE_URL",
            ) from None
        users = {str(user.get("id")): user for user in _list(body.get("includes") or {}, "users")}
        found = []
        for tweet in _list(body, "data"):
            tweet_id, author = _positive(tweet.get("id")), _positive(tweet.get("author_id"))
            if tweet_id is None or author is None:
                raise ApiFailure("malformed", "the tweet lookup returned a tweet without ids")
            metrics = tweet.get("public_metrics") or {}
            count = metrics.get("retweet_count") if isinstance(metrics, Mapping) else None
            user = users.get(str(author), {})
            found.append(
                TweetInfo(
                    tweet_id,
                    author,
                    _str_or_none(user.get("username")),
                    _str_or_none(user.get("name")),
                    count if isinstance(count, int) else None,
                )
            )
        missing = []
        for error in _list(body, "errors"):
            missing_id = _positive(error.get("resource_id") or error.get("value"))
            if missing_id is not None:
                missing.append(_missing(missing_id, error))
        return found, missing

    def retweeters(self, tweet_id: int, limit: int) -> Iterator[Page]:
        """Pages of retweeters until next_token is absent or `limit` users (0 = all) are read.

        Read through self.via. When the retweets endpoint is refused for the app's
        access level on a tweet's first page, the rest of the run uses retweeted_by
        (self.fallback says why, once).
        """
        try:
            yield from self._pages(tweet_id, limit, self.via)
        except EndpointRefused as exc:
            self.via = VIA_RETWEETED_BY
            self.fallback = str(exc)
            yield from self._pages(tweet_id, limit, self.via)

    def _pages(self, tweet_id: int, limit: int, via: str) -> Iterator[Page]:
        fetch_page = self._retweets_page if via == VIA_RETWEETS else self._retweeted_by_page
        token: str | None = None
        remaining = limit if limit > 0 else None
        first = True
        while True:
            page_size = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            try:
                page = fetch_page(tweet_id, page_size, token)
            except tweepy.NotFound as exc:
                raise TweetGone("not_found", gone_detail(_api_text(exc))) from None
            except EndpointRefused:
                if not first:  # pages of it were read: a refusal now is not the access level
                    raise ApiFailure(
                        "credentials", "the X API refused the retweets endpoint midway"
                    ) from None
                raise
            first = False
            if remaining is not None:
                page = Page(
                    page.users[:remaining],
                    page.next_token,
                    None if page.retweets is None else page.retweets[:remaining],
                )
                remaining -= len(page.users)
            token = page.next_token
            yield page
            if not token or remaining == 0:
                return

    def _retweeted_by_page(self, tweet_id: int, size: int, token: str | None) -> Page:
        body = self._call(
            functools.partial(
                self.client.get_retweeters,
                tweet_id,
                max_results=size,
                pagination_token=token,
                user_fields=USER_FIELDS,
            )
        )
        users = []
        for user in _list(body, "data"):  # a page without data is an empty page
            user_id = _positive(user.get("id"))
            if user_id is None:
                raise ApiFailure("malformed", "a retweeter without a valid id")
            users.append(
                (user_id, _str_or_none(user.get("username")), _str_or_none(user.get("name")))
            )
        return Page(users, _next_token(body))

    def _retweets_page(self, tweet_id: int, size: int, token: str | None) -> Page:
        params: dict[str, str | int] = {
            "max_results": max(size, RETWEETS_MIN_PAGE),
            "tweet.fields": ",".join(RETWEET_FIELDS),
            "expansions": "author_id",
            "user.fields": ",".join(USER_FIELDS),
        }
        if token:
            params["pagination_token"] = token
        route = f"/2/tweets/{tweet_id}/retweets"
        body = self._call(lambda: _refused_or_json(self.client, route, params))
        known = {str(u.get("id")): u for u in _list(body.get("includes") or {}, "users")}
        users, retweets = [], []
        for post in _list(body, "data"):  # a page without data is an empty page
            retweet_id, user_id = _positive(post.get("id")), _positive(post.get("author_id"))
            if retweet_id is None or user_id is None:
                raise ApiFailure("malformed", "a retweet without a valid id or author_id")
            user = known.get(str(user_id), {})
            users.append(
                (user_id, _str_or_none(user.get("username")), _str_or_none(user.get("name")))
            )
            retweets.append((retweet_id, _time(post.get("created_at"))))
        return Page(users[:size], _next_token(body), retweets[:size])

    def _call(self, call: Callable[[], Any]) -> dict[str, Any]:
        """Run one API call: retry transient failures within the budget, classify the rest."""
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                with warnings.catch_warnings():
                    # tweepy warns on its own; --quiet must stay quiet under cron.
                    warnings.simplefilter("ignore")
                    body = call()
                if not isinstance(body, dict):
                    raise ValueError("not a JSON object")
                return body
            except tweepy.TooManyRequests as exc:
                raise _rate_limited(exc) from None
            except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
                raise ApiFailure(
                    "credentials",
                    f"the X API refused the credentials (HTTP {exc.response.status_code}): "
                    "check the bearer token and the app's access level",
                ) from None
            except tweepy.BadRequest as exc:
                raise ApiFailure(
                    "config",
                    f"the X API refused the request as invalid (HTTP 400) at"
                    f" {_endpoint(exc.response)}: {_api_text(exc)}; check RETWEETCTL_API_BASE_URL",
                ) from None
            except tweepy.NotFound:
                raise
            except tweepy.TwitterServerError as exc:
                failure = ApiFailure(
                    "unavailable", f"the X API failed (HTTP {exc.response.status_code})"
                )
            except requests.Timeout:
                failure = ApiFailure("unavailable", "the X API did not answer in time")
            except requests.ConnectionError:
                failure = ApiFailure("unavailable", "cannot connect to the X API")
            except ValueError:  # requests.JSONDecodeError included: an HTML page, truncated JSON
                failure = ApiFailure("malformed", "the X API sent a malformed response (not JSON)")
            except requests.RequestException as exc:  # e.g. a body cut off midway
                failure = ApiFailure("unavailable", f"the X API call failed ({type(exc).__name__})")
            except tweepy.HTTPException as exc:
                raise ApiFailure(
                    "malformed",
                    f"the X API rejected the request (HTTP {exc.response.status_code}: {_api_text(exc)})",
                ) from None
            policy = self.retry
            delay = policy.backoff * (2**attempt)
            policy.spent += time.monotonic() - started
            if attempt >= policy.max_retries or policy.spent + delay > policy.budget:
                raise failure
            policy.sleep(delay)
            policy.spent += delay
            attempt += 1


def batches(ids: Sequence[int], size: int = LOOKUP_BATCH) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _rate_limited(exc: tweepy.TooManyRequests) -> ApiFailure:
    reset_at = None
    raw = exc.response.headers.get("x-rate-limit-reset")
    if raw and raw.strip().isdigit():
        reset_at = datetime.fromtimestamp(int(raw), tz=UTC)
    problem = ""
    try:
        body = exc.response.json()
        if isinstance(body, dict):
            problem = str(body.get("type", ""))
    except ValueError:
        pass
    if problem.endswith(USAGE_CAPPED_SUFFIX):
        return ApiFailure(
            "rate_limited",
            "the X API usage cap of this app is reached (waiting for the rate-limit window will "
            "not help; the cap resets with the billing period)",
        )
    when = f"; the window resets at {reset_at:%Y-%m-%d %H:%M:%S} UTC" if reset_at else ""
    return ApiFailure("rate_limited", f"X API rate limit reached{when}", reset_at)


def _missing(tweet_id: int, error: Mapping[str, Any]) -> Missing:
    kind = str(error.get("type", ""))
    text = str(error.get("detail") or error.get("title") or "not available")
    if kind.endswith("/not-authorized-for-resource"):
        return Missing(
            tweet_id, "unauthorized", f"protected, or hidden from this app (X API: {text})"
        )
    return Missing(tweet_id, "not_found", gone_detail(text))


def gone_detail(api_text: str) -> str:
    """The one wording of a tweet the API cannot find (shown after the status 'not found')."""
    return f"deleted, or its author suspended (X API: {api_text})"


def _refused_or_json(client: tweepy.Client, route: str, params: Mapping[str, Any]) -> Any:
    """GET route through tweepy's request (session, errors); EndpointRefused for a product 403."""
    try:
        return client.request("GET", route, params=dict(params)).json()
    except tweepy.Forbidden as exc:
        reason = _endpoint_refusal(exc.response)
        if reason is None:
            raise
        raise EndpointRefused(reason) from None


# A 403 body of the API's "client-forbidden" / "client-not-enrolled" problem names the
# access level (product) the endpoint needs; other 403s are about the credentials.
_REFUSAL_TYPES = ("/problems/client-forbidden", "/problems/unsupported-authentication")
_REFUSAL_WORDS = ("endpoint", "access level", "product", "enrollment", "enrolled")


def _endpoint_refusal(response: requests.Response) -> str | None:
    """Why the endpoint was refused, if the 403 body names the endpoint or the product."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    text = " ".join(
        str(body.get(key) or "")
        for key in ("title", "detail", "reason", "required_enrollment", "type")
    )
    typed = str(body.get("type") or "").endswith(_REFUSAL_TYPES)
    if not typed and not any(word in text.lower() for word in _REFUSAL_WORDS):
        return None
    detail = str(body.get("detail") or body.get("title") or "access level")
    return f"the retweets endpoint is not in this app's access level ({detail[:200]})"


def _next_token(body: Mapping[str, Any]) -> str | None:
    meta = body.get("meta") or {}
    token = meta.get("next_token") if isinstance(meta, Mapping) else None
    return token if isinstance(token, str) and token else None


def _time(value: object) -> datetime | None:
    """The API's created_at (ISO 8601, 'Z'); None when absent, ApiFailure when not a time."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ApiFailure(
            "malformed", f"a retweet with a malformed created_at {str(value)[:40]!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _endpoint(response: requests.Response) -> str:
    """The URL a response answered, without user info or query: nothing secret, nothing long."""
    parts = urlsplit(str(response.url or ""))
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _api_text(exc: tweepy.HTTPException) -> str:
    messages = [str(m) for m in exc.api_messages] or [
        str(e.get("detail") or e.get("title")) for e in exc.api_errors if isinstance(e, dict)
    ]
    return "; ".join(messages) or str(exc.response.reason)


def _list(body: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = body.get(key) if isinstance(body, Mapping) else None
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ApiFailure("malformed", f"the X API sent a malformed {key!r} field")
    return value


def _positive(value: object) -> int | None:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return parse_id_text(text)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
