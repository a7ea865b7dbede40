"""`retweetctl watch …`: the watch list that `fetch --watched` checks."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from retweetctl import report, watchlist
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


# Short headers, and times as ages ("3h ago"; exact in --json), so that a row fits 80
# columns: a 19-digit id, the longest @username (16), five-digit counts and "active" come
# to 80. Wider ("incomplete", "unauthorized") on a terminal: usernames shortened to fit.
LIST_HEADER: tuple[str, ...] = (
    "tweet",
    "author",
    "held",
    "count",
    "checked",
    "newest RT",
    "status",
)
AUTHOR = 1
LIST_NUMBERS = {2, 3}  # held, count: right-aligned
GAP = "  "


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array (IDs as strings)."),
) -> None:
    """Show each watched tweet: author, retweeters held, retweet_count, last check, newest retweet."""
    with state(ctx).connect() as conn:
        tweets = watchlist.entries(conn)
    if as_json:
        print(json.dumps([_json(t) for t in tweets]))
        return
    if not tweets:
        stdout_console.print("the watch list is empty (add tweets with: retweetctl watch add ID…)",
                             markup=False, highlight=False)  # fmt: skip
        return
    now = datetime.now(UTC)
    rows = [LIST_HEADER, *(_row(t, now) for t in tweets)]
    if stdout_console.is_terminal:
        rows = _fit(rows, stdout_console.width)
    widths = _widths(rows)
    for row in rows:
        cells = (
            cell.rjust(width) if i in LIST_NUMBERS else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        stdout_console.print(GAP.join(cells).rstrip(), markup=False, highlight=False)


def _row(t: watchlist.WatchedTweet, now: datetime) -> tuple[str, ...]:
    return (
        str(t.tweet_id),
        f"@{t.author_username}" if t.author_username else str(t.author_id or "?"),
        str(t.held),
        "?" if t.retweet_count is None else str(t.retweet_count),
        _ago(t.last_checked_at, now) if t.last_checked_at else "never",
        _ago(t.newest_retweet_at, now) if t.newest_retweet_at else "-",
        # incomplete: the last check of a readable tweet stopped before its last page
        "incomplete"
        if not t.complete and t.last_checked_at is not None and t.status == "active"
        else t.status,
    )


def _widths(rows: list[tuple[str, ...]]) -> list[int]:
    return [max(len(row[i]) for row in rows) for i in range(len(LIST_HEADER))]


def _fit(rows: list[tuple[str, ...]], width: int) -> list[tuple[str, ...]]:
    """The rows with @usernames shortened in the middle, as the matrix does its labels (not
    below report.MIN_LABEL_WIDTH; ids are never cut), so that a line fits `width`."""
    widths = _widths(rows)
    excess = sum(widths) + len(GAP) * (len(widths) - 1) - width
    if excess <= 0:
        return rows
    cap = max(widths[AUTHOR] - excess, report.MIN_LABEL_WIDTH)
    return [(*row[:AUTHOR], _shorten(row[AUTHOR], cap), *row[AUTHOR + 1 :]) for row in rows]


def _shorten(author: str, width: int) -> str:
    return report.shorten(author, width) if author.startswith("@") else author


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


def _ago(moment: datetime, now: datetime) -> str:
    """How long ago, in one unit: `just now`, `42m ago`, `47h ago`, `364d ago`, `3y ago`."""
    seconds = (now - moment).total_seconds()
    if seconds < 60:  # or in the future: the database server's clock runs ahead of ours
        return "just now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m ago"
    if minutes < 48 * 60:
        return f"{minutes // 60}h ago"
    days = minutes // (24 * 60)
    return f"{days}d ago" if days < 365 else f"{days // 365}y ago"


def _s(items: list[int]) -> str:
    return "" if len(items) == 1 else "s"


def _say(summary: str, unchanged: list[int], why: str) -> None:
    if unchanged:
        summary += f" ({len(unchanged)} {why}: {', '.join(map(str, unchanged))})"
    stdout_console.print(summary, markup=False, highlight=False)
