"""The watch list: the tweets `fetch --watched` checks, and what we hold for each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from retweetctl.database import Connection
from retweetctl.queries import load


@dataclass(frozen=True)
class WatchChange:
    changed: list[int]  # added (new to the list) or removed
    unchanged: list[int]  # already watched, or not watched


@dataclass(frozen=True)
class WatchedTweet:
    tweet_id: int
    author_id: int | None
    author_username: str | None
    added_at: datetime
    last_checked_at: datetime | None
    held: int  # rows in retweets for this tweet
    retweet_count: int | None  # as the API last reported it
    complete: bool  # the last check read every page it asked for
    last_added: int | None
    status: str
    newest_retweet_at: datetime | None = None  # the newest retweet held that has a time


def add(conn: Connection, tweet_ids: Sequence[int]) -> WatchChange:
    """Watch these tweets; ones already watched stay (a marked one becomes active again)."""
    inserted: dict[int, bool] = {}
    with conn.transaction():
        # In id order: `watch add A B` beside `watch add B A` lock rows in one order.
        for tweet_id in sorted(set(tweet_ids)):
            row = conn.execute(load("watch_add"), {"tweet_id": tweet_id}).fetchone()
            inserted[tweet_id] = bool(row and row[0])
    ordered = list(dict.fromkeys(tweet_ids))  # reported in the order given
    return WatchChange([t for t in ordered if inserted[t]], [t for t in ordered if not inserted[t]])


def remove(conn: Connection, tweet_ids: Sequence[int]) -> WatchChange:
    """Stop watching these tweets; their retweets stay stored."""
    with conn.transaction():
        rows = conn.execute(load("watch_remove"), {"ids": list(tweet_ids)}).fetchall()
    removed = {int(r[0]) for r in rows}  # type: ignore[call-overload]
    return WatchChange(
        [t for t in tweet_ids if t in removed], [t for t in tweet_ids if t not in removed]
    )


def entries(conn: Connection) -> list[WatchedTweet]:
    """Every watched tweet, oldest on the list first."""
    rows = conn.execute(load("watch_list")).fetchall()
    return [WatchedTweet(*row) for row in rows]  # type: ignore[arg-type]
