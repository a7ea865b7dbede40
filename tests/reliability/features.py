"""Shared data for the feature scenarios: a sandbox X API, files to load, what the table must hold.

Every tweet has one author, and every input agrees on it, so "the union of the
inputs" is well defined: a set of (tweet_id, retweeter_id, author_id).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from retweetctl.sandbox import SandboxServer, SandboxTweet, SandboxUser
from tests.reliability.harness import TOKEN

Row = tuple[int, int, int]
# Retry fast: the production backoff is seconds.
FAST_BACKOFF = "0.01"
PAGE = 100  # the X API's max_results for retweets and retweeted_by


def user(user_id: int) -> SandboxUser:
    return SandboxUser(user_id, f"user{user_id}", f"User {user_id}")


def add_tweets(sandbox: SandboxServer, tweets: dict[int, tuple[int, range]]) -> dict[int, set[Row]]:
    """tweet_id -> (author_id, retweeter ids): serve them; return each tweet's rows."""
    rows: dict[int, set[Row]] = {}
    for tweet_id, (author_id, retweeters) in tweets.items():
        sandbox.state.add(SandboxTweet(tweet_id, user(author_id), [user(r) for r in retweeters]))
        rows[tweet_id] = {(tweet_id, r, author_id) for r in retweeters}
    return rows


def fetch_env(env: dict[str, str], sandbox: SandboxServer, timeout: str = "5") -> dict[str, str]:
    return dict(
        env,
        RETWEETCTL_API_BASE_URL=sandbox.url,
        X_BEARER_TOKEN=TOKEN,
        RETWEETCTL_RETRY_BACKOFF=FAST_BACKOFF,
        RETWEETCTL_HTTP_TIMEOUT=timeout,
    )


def write_csv(path: Path, rows: Iterable[Row]) -> Path:
    lines = ["tweet_id,retweeter_id,author_id", *(f"{t},{r},{a}" for t, r, a in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_twarc(path: Path, rows: Iterable[Row], per_page: int = 50) -> Path:
    """X API v2 search pages (as twarc2 writes them), each retweet with its original in includes."""
    ordered = sorted(rows)
    with path.open("w") as out:
        for begin in range(0, len(ordered), per_page):
            page = ordered[begin : begin + per_page]
            data = [
                {
                    "id": str(10**15 + begin + n),
                    "author_id": str(r),
                    "text": "RT",
                    "referenced_tweets": [{"type": "retweeted", "id": str(t)}],
                }
                for n, (t, r, _) in enumerate(page)
            ]
            originals = {t: a for t, _, a in page}
            includes = {
                "tweets": [
                    {"id": str(t), "author_id": str(a), "text": "x"} for t, a in originals.items()
                ],
                "users": [{"id": str(r), "username": f"user{r}", "name": "U"} for _, r, _ in page],
            }
            out.write(json.dumps({"data": data, "includes": includes}) + "\n")
    return path


def reported_added(stdout: str) -> int:
    """`added` from fetch --json ({"added": n}) or load --json ({"total": {"added": n}})."""
    payload = json.loads(stdout)
    return int(payload["total"]["added"] if "total" in payload else payload["added"])
