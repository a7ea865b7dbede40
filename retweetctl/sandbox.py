"""A SANDBOX X API: a tiny X-API-v2-compatible server on 127.0.0.1 for tests and `make demo`.

It serves the endpoints retweetctl calls (tweet lookup, retweets and retweeted_by) in
the shape the real API records show, from data held in memory, and can be
scripted to misbehave (status codes, slow or garbage answers). It records every
request it receives. It is not the X API and never talks to the network.

    python -m retweetctl.sandbox demo                # what `make demo` runs
    python -m retweetctl.sandbox serve [--port PORT]  # just the server, to try `fetch` by hand
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

LOOPBACK = "127.0.0.1"
RATE_LIMIT_WINDOW_SECONDS = 900  # the X API's 15-minute windows
RETWEETED_BY_LIMIT = 75  # requests per window, retweeted_by and retweets alike
LOOKUP_LIMIT = 300
PROBLEMS = "https://api.twitter.com/2/problems/"
DEFAULT_MAX_RESULTS = 100

_TWEET_PATH = re.compile(r"^/2/tweets/(\d+)/(retweeted_by|retweets)$")
# The retweets endpoint's smallest max_results (its API reference): below, a 400.
RETWEETS_MIN_RESULTS = 5
# Sandbox retweets happen RETWEET_SPACING apart from RETWEETS_START, in list order.
RETWEETS_START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RETWEET_SPACING = timedelta(seconds=97)
TWITTER_EPOCH_MS = 1288834974657  # snowflake ids count milliseconds from here
# What the X API answers when the app's access level lacks an endpoint (its
# "client-forbidden" problem); arm it with Fault(r"/retweets$", 403, ENDPOINT_REFUSED_BODY).
ENDPOINT_REFUSED_BODY = json.dumps(
    {
        "client_id": "00000000",
        "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys "
        "and tokens from a Twitter developer App that is attached to a Project. You can create a "
        "project via the developer portal.",
        "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
        "title": "Client Forbidden",
        "required_enrollment": "Appropriate Level of API Access",
        "reason": "client-not-enrolled",
        "type": "https://api.twitter.com/2/problems/client-forbidden",
    }
).encode()


@dataclass(frozen=True)
class SandboxUser:
    id: int
    username: str
    name: str

    def json(self) -> dict[str, str]:
        return {"id": str(self.id), "name": self.name, "username": self.username}


@dataclass
class SandboxTweet:
    """A tweet the sandbox knows. `pages` (users, next_token) overrides computed pagination."""

    id: int
    author: SandboxUser
    retweeters: list[SandboxUser] = field(default_factory=list)
    retweet_count: int | None = None  # default: len(retweeters)
    status: str = "ok"  # or 'not_found', 'unauthorized' (how the lookup reports it)
    pages: list[tuple[list[SandboxUser], str | None]] | None = None
    text: str = "a sandbox tweet"


def retweet_post(tweet_id: int, index: int) -> tuple[int, datetime]:
    """The id and time of the retweet by the index-th retweeter of a sandbox tweet.

    The id is a snowflake of the time, as X's are, so ids and times agree.
    """
    at = RETWEETS_START + index * RETWEET_SPACING
    millis = int(at.timestamp() * 1000) - TWITTER_EPOCH_MS
    return (millis << 22) + (tweet_id % 4096), at


@dataclass
class Fault:
    """Answer the next `times` requests whose path matches `path` this way instead.

    status None with delay > 0: a slow but otherwise normal answer.
    """

    path: str
    status: int | None = 500
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1
    content_type: str = "application/json"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    bearer: str | None


class SandboxState:
    """Everything the sandbox serves; change it between runs (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tweets: dict[int, SandboxTweet] = {}
        self.faults: list[Fault] = []
        self.requests: list[RecordedRequest] = []
        self.expected_token: str | None = None  # None: any bearer token is accepted

    def add(self, tweet: SandboxTweet) -> SandboxTweet:
        with self.lock:
            self.tweets[tweet.id] = tweet
        return tweet

    def fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def requests_to(self, pattern: str) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if re.search(pattern, r.path)]


class SandboxServer:
    """The server in a background thread: `with SandboxServer() as sandbox: sandbox.url`."""

    def __init__(self, state: SandboxState | None = None, port: int = 0) -> None:
        self.state = state or SandboxState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._httpd = _QuietServer((LOOPBACK, port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._httpd.server_address[1]}"

    def start(self) -> SandboxServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)
        # else: a client that timed out and hung up; that is what slow faults are for


class _Handler(BaseHTTPRequestHandler):
    state: SandboxState
    server_version = "retweetctl-sandbox"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: the demo's output is retweetctl's

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        auth = self.headers.get("Authorization", "")
        bearer = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
        with self.state.lock:
            self.state.requests.append(RecordedRequest("GET", parts.path, query, bearer))
            fault = self._take_fault(parts.path)
            expected = self.state.expected_token
        if fault is not None:
            time.sleep(fault.delay)
            if fault.status is not None:
                self._send(fault.status, fault.body or b"", fault.headers, fault.content_type)
                return
        if bearer is None or (expected is not None and bearer != expected):
            self._json(401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                             "detail": "Unauthorized"})  # fmt: skip
            return
        with self.state.lock:
            if parts.path == "/2/tweets":
                status, body = 200, self._lookup(query)
            elif match := _TWEET_PATH.match(parts.path):
                status, body = self._retweeters(int(match.group(1)), match.group(2), query)
            else:
                status, body = 404, {"title": "Not Found", "status": 404, "detail": parts.path}
        self._json(status, body)

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self.state.faults:
            if fault.times > 0 and re.search(fault.path, path):
                fault.times -= 1
                return fault
        return None

    def _lookup(self, query: dict[str, str]) -> dict[str, Any]:
        fields = set(query.get("tweet.fields", "").split(","))
        data, users, errors = [], {}, []
        for raw in query.get("ids", "").split(","):
            tweet = self.state.tweets.get(int(raw)) if raw.isdigit() else None
            if tweet is None or tweet.status == "not_found":
                errors.append(_lookup_error(raw, "resource-not-found", "Not Found Error",
                                            f"Could not find tweet with ids: [{raw}]."))  # fmt: skip
                continue
            if tweet.status == "unauthorized":
                errors.append(_lookup_error(raw, "not-authorized-for-resource", "Authorization Error",
                                            f"Sorry, you are not authorized to see the Tweet with ids: [{raw}]."))  # fmt: skip
                continue
            item: dict[str, Any] = {"edit_history_tweet_ids": [str(tweet.id)], "id": str(tweet.id),
                                    "text": tweet.text}  # fmt: skip
            if "author_id" in fields:
                item["author_id"] = str(tweet.author.id)
            if "public_metrics" in fields:
                count = (
                    len(tweet.retweeters) if tweet.retweet_count is None else tweet.retweet_count
                )
                item["public_metrics"] = {"retweet_count": count, "reply_count": 0,
                                          "like_count": 0, "quote_count": 0}  # fmt: skip
            data.append(item)
            if "author_id" in query.get("expansions", ""):
                users[tweet.author.id] = tweet.author.json()
        body: dict[str, Any] = {}
        if data:
            body["data"] = data
        if users:
            body["includes"] = {"users": list(users.values())}
        if errors:
            body["errors"] = errors
        return body

    def _retweeters(
        self, tweet_id: int, endpoint: str, query: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """One page of either endpoint: users (retweeted_by) or their retweet posts (retweets)."""
        size = int(query.get("max_results", DEFAULT_MAX_RESULTS))
        if endpoint == "retweets" and size < RETWEETS_MIN_RESULTS:
            return 400, {"title": "Invalid Request", "detail": "max_results must be at least 5"}
        tweet = self.state.tweets.get(tweet_id)
        if tweet is None or tweet.status != "ok":
            return 200, {"errors": [_lookup_error(str(tweet_id), "resource-not-found",
                                                  "Not Found Error", "Could not find tweet")]}  # fmt: skip
        token = query.get("pagination_token")
        if tweet.pages is not None:
            index = 0
            if token:
                tokens = [next_token for _, next_token in tweet.pages]
                if token not in tokens:
                    return 400, {"title": "Invalid Request", "detail": "bad pagination_token"}
                index = tokens.index(token) + 1
            users, next_token = tweet.pages[index]
        else:
            offset = int(token.removeprefix("sandbox-")) if token else 0
            users = tweet.retweeters[offset : offset + size]
            more = offset + size < len(tweet.retweeters)
            next_token = f"sandbox-{offset + size}" if more else None
        body: dict[str, Any] = {}
        if users and endpoint == "retweets":
            body.update(self._retweet_posts(tweet, users, query))
        elif users:  # like the API: an empty page has no `data` at all
            body["data"] = [user.json() for user in users]
        body["meta"] = {"result_count": len(users)}
        if next_token:
            body["meta"]["next_token"] = next_token
        return 200, body

    @staticmethod
    def _retweet_posts(
        tweet: SandboxTweet, users: list[SandboxUser], query: dict[str, str]
    ) -> dict[str, Any]:
        """The retweet posts of `users`, with the fields and expansions asked for."""
        fields = set(query.get("tweet.fields", "").split(","))
        order = {user.id: index for index, user in enumerate(tweet.retweeters)}
        posts = []
        for user in users:
            retweet_id, at = retweet_post(tweet.id, order.get(user.id, len(order)))
            post: dict[str, Any] = {"edit_history_tweet_ids": [str(retweet_id)],
                                    "id": str(retweet_id),
                                    "text": f"RT @{tweet.author.username}: {tweet.text}"}  # fmt: skip
            if "author_id" in fields:
                post["author_id"] = str(user.id)
            if "created_at" in fields:
                post["created_at"] = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            posts.append(post)
        body: dict[str, Any] = {"data": posts}
        if "author_id" in query.get("expansions", ""):
            unique = {user.id: user.json() for user in users}
            body["includes"] = {"users": list(unique.values())}
        return body

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), {}, "application/json")

    def _send(self, status: int, body: bytes, headers: dict[str, str], content_type: str) -> None:
        reset = int(time.time()) + RATE_LIMIT_WINDOW_SECONDS
        limit = RETWEETED_BY_LIMIT if _TWEET_PATH.match(urlsplit(self.path).path) else LOOKUP_LIMIT
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        defaults = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(limit - 1),
            "x-rate-limit-reset": str(reset),
        }
        for name, value in {**defaults, **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _lookup_error(value: str, problem: str, title: str, detail: str) -> dict[str, str]:
    return {
        "value": value,
        "detail": detail,
        "title": title,
        "resource_type": "tweet",
        "parameter": "ids",
        "resource_id": value,
        "type": PROBLEMS + problem,
    }


# ---------------------------------------------------------------- make demo

DEMO_DIR = Path(".demo")
DEMO_TOKEN = "sandbox-demo-token-not-a-real-credential"
ALICE = SandboxUser(1790000000000000101, "sandbox_alice", "Alice (sandbox)")
BOB = SandboxUser(1790000000000000102, "sandbox_bob", "Bob (sandbox)")
CAROL = SandboxUser(1790000000000000103, "sandbox_carol", "Carol (sandbox)")
DAVE = SandboxUser(1790000000000000104, "sandbox_dave", "Dave (sandbox)")
ERIN = SandboxUser(1790000000000000105, "sandbox_erin", "Erin (sandbox)")
TWEET_A = 1790000000000001001
TWEET_B = 1790000000000001002
TWEET_C = 1790000000000001003
TWEET_GONE = 1790000000000001009  # the lookup reports it not found, like a deleted tweet
# `serve` listens here unless --port says otherwise, so the exports it prints stay valid
# from one start to the next (0 = any free port).
DEFAULT_SERVE_PORT = 8765


def run_demo(directory: Path = DEMO_DIR) -> int:
    """The main job end to end against the sandbox, on an embedded database in `directory`."""
    home = directory.resolve() / "home"
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # keep our lines in order with the children's
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("RETWEETCTL_", "X_", "TWITTER_"))
    }
    env.update(RETWEETCTL_HOME=str(home), X_BEARER_TOKEN=DEMO_TOKEN, RETWEETCTL_RETRY_BACKOFF="0")
    if home.exists():  # start from nothing, so the counts below are the ones a new user sees
        _retweetctl(["db", "stop"], env, show=False)
        shutil.rmtree(directory)
    print("== SANDBOX: a stand-in X API on 127.0.0.1 (no network, no credentials) ==")
    with SandboxServer() as sandbox:
        env["RETWEETCTL_API_BASE_URL"] = sandbox.url
        state = sandbox.state
        print(f"sandbox X API at {sandbox.url}; retweetctl's data in {home}\n")
        print(f"-- in the sandbox, @{CAROL.username} retweets {TWEET_A} by @{ALICE.username}")
        state.add(SandboxTweet(TWEET_A, ALICE, [CAROL]))
        status = _retweetctl(["fetch", str(TWEET_A)], env)
        print(f"\n-- @{DAVE.username} retweets it too")
        state.tweets[TWEET_A].retweeters.append(DAVE)
        status |= _retweetctl(["fetch", str(TWEET_A)], env)
        print(
            f"\n-- @{ERIN.username} retweets it, @{CAROL.username} retweets a tweet by @{BOB.username};"
        )
        print("-- both go on the watch list, and cron would run `fetch --watched --quiet`")
        state.tweets[TWEET_A].retweeters.append(ERIN)
        state.add(SandboxTweet(TWEET_B, BOB, [CAROL]))
        status |= _retweetctl(["watch", "add", str(TWEET_A), str(TWEET_B)], env)
        status |= _retweetctl(["fetch", "--watched"], env)
        status |= _retweetctl(["watch", "list"], env)
        print()
        if _retweetctl(["matrix"], env) != 0:
            print("(note: `retweetctl matrix` is not built yet in this version; the rows are stored,"
                  " see them with: psql \"$(RETWEETCTL_HOME=.demo/home .venv/bin/retweetctl db url)\")")  # fmt: skip
        print(f"\nthe sandbox received {len(state.requests)} requests")
    _retweetctl(["db", "stop"], env)
    print("== SANDBOX demo done (its database stays in .demo/; `make demo` starts over) ==")
    return 1 if status else 0


def _retweetctl(args: Sequence[str], env: dict[str, str], show: bool = True) -> int:
    if show:
        print("$ retweetctl " + " ".join(args), flush=True)
    done = subprocess.run(
        [sys.executable, "-m", "retweetctl", *args],
        env=env,
        check=False,
        stdout=None if show else subprocess.DEVNULL,
        stderr=None if show else subprocess.DEVNULL,
    )
    return done.returncode


def serve_tweets(state: SandboxState) -> list[SandboxTweet]:
    """What `serve` holds: a few tweets by the sandbox users, and one the lookup cannot find."""
    return [
        state.add(SandboxTweet(TWEET_A, ALICE, [CAROL, DAVE, ERIN])),
        state.add(SandboxTweet(TWEET_B, BOB, [CAROL, ALICE])),
        state.add(SandboxTweet(TWEET_C, CAROL, [ALICE, BOB, DAVE, ERIN])),
        state.add(SandboxTweet(TWEET_GONE, ERIN, status="not_found")),
    ]


def serve(port: int = DEFAULT_SERVE_PORT) -> int:
    """Run the sandbox in the foreground and say how to point retweetctl at it."""
    try:
        sandbox = SandboxServer(port=port)
    except OSError as exc:
        sys.stderr.write(f"cannot listen on {LOOPBACK}:{port}: {exc.strerror}; try --port 0\n")
        return 1
    with sandbox:
        tweets = serve_tweets(sandbox.state)
        ids = " ".join(str(t.id) for t in tweets)
        print(
            f"SANDBOX X API (not the real one) at {sandbox.url}; Ctrl-C stops it.\n"
            "In another shell:\n"
            f"  export RETWEETCTL_API_BASE_URL={sandbox.url}\n"
            f"  export X_BEARER_TOKEN={DEMO_TOKEN}\n"
            f"  retweetctl fetch {ids}",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m retweetctl.sandbox",
        description="A SANDBOX X API on 127.0.0.1 (not the real one; no network, no credentials).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="the main job end to end (what `make demo` runs)")
    serve_parser = commands.add_parser("serve", help="just the server, to try `fetch` by hand")
    serve_parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_SERVE_PORT,
        help=f"port on {LOOPBACK} (default {DEFAULT_SERVE_PORT}; 0 = any free port)",
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        return run_demo()
    return serve(args.port)


if __name__ == "__main__":
    sys.exit(main())
