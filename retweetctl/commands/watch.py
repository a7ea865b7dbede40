"""`retweetctl watch …`: the watch list that `fetch --watched` checks."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from retweetctl import watchlist
from retweetctl.commands.common import state, stdout_console
from retweetctl.fetch import parse_tweet_ids

app = typer.Typer(
    help="The watch list: tweets that `fetch --watched` checks.", no_args_is_help=True
)

IdsArgument = Annotated[
    list[str],
    typer.Argument(
        metavar="TWEET_ID...",
        help="Tweet IDs or URLs (https://x.com/USER/status/ID); '-' reads one per line from stdin.",
    ),
]


def _ids(args: list[str]) -> list[int]:
    return parse_tweet_ids(args, sys.stdin if "-" in args else None)


@app.command("add")
def add(ctx: typer.Context, tweet_ids: IdsArgument) -> None:
    """Add tweets to the watch list (no API call; the next `fetch --watched` looks them up)."""
    ids = _ids(tweet_ids)
    with state(ctx).connect() as conn:
        change = watchlist.add(conn, ids)
    _say(f"watching {len(change.changed)} more tweet{_s(change.changed)}", change.unchanged,
         "already watched")  # fmt: skip


@app.command("remove")
def remove(ctx: typer.Context, tweet_ids: IdsArgument) -> None:
    """Remove tweets from the watch list (their stored retweets stay)."""
    ids = _ids(tweet_ids)
    with state(ctx).connect() as conn:
        change = watchlist.remove(conn, ids)
    _say(f"removed {len(change.changed)} tweet{_s(change.changed)} from the watch list",
         change.unchanged, "not watched")  # fmt: skip


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array (IDs as strings)."),
) -> None:
    """Show each watched tweet: author, last check, retweeters held, newest retweet, retweet_count."""
    with state(ctx).connect() as conn:
        tweets = watchlist.entries(conn)
    if as_json:
        print(json.dumps([_json(t) for t in tweets]))
        return
    if not tweets:
        stdout_console.print("the watch list is empty (add tweets with: retweetctl watch add ID…)",
                             markup=False, highlight=False)  # fmt: skip
        return
    header = (
        "tweet",
        "author",
        "last checked (UTC)",
        "held",
        "newest retweet (UTC)",
        "retweet_count",
        "status",
    )
    rows = [header] + [
        (
            str(t.tweet_id),
            f"@{t.author_username}" if t.author_username else str(t.author_id or "?"),
            _time(t.last_checked_at) if t.last_checked_at else "never",
            str(t.held),
            _time(t.newest_retweet_at) if t.newest_retweet_at else "-",
            ("?" if t.retweet_count is None else str(t.retweet_count))
            # incomplete: the last check of a readable tweet stopped before its last page
            + (
                " (incomplete)"
                if not t.complete and t.last_checked_at is not None and t.status == "active"
                else ""
            ),
            t.status,
        )
        for t in tweets
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        stdout_console.print(line.rstrip(), markup=False, highlight=False)


def _json(t: watchlist.WatchedTweet) -> dict[str, object]:
    return {
        "id": str(t.tweet_id),
        "author_id": None if t.author_id is None else str(t.author_id),
        "author_username": t.author_username,
        "added_at": t.added_at.isoformat(),
        "last_checked_at": t.last_checked_at.isoformat() if t.last_checked_at else None,
        "held": t.held,
        "newest_retweet_at": t.newest_retweet_at.isoformat() if t.newest_retweet_at else None,
        "retweet_count": t.retweet_count,
        "complete": t.complete,
        "last_added": t.last_added,
        "status": t.status,
    }


def _time(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}"


def _s(items: list[int]) -> str:
    return "" if len(items) == 1 else "s"


def _say(summary: str, unchanged: list[int], why: str) -> None:
    if unchanged:
        summary += f" ({len(unchanged)} {why}: {', '.join(map(str, unchanged))})"
    stdout_console.print(summary, markup=False, highlight=False)
