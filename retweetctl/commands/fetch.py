"""`retweetctl fetch`: who retweeted these tweets, from the X API into PostgreSQL."""

from __future__ import annotations

import json
import sys
from collections import Counter
from enum import StrEnum
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from retweetctl.commands.common import state, stderr_console, stdout_console, warn
from retweetctl.errors import RetweetctlError, UsageError
from retweetctl.fetch import (
    DEFAULT_LIMIT,
    ERROR,
    NOT_FOUND,
    OK,
    RATE_LIMITED,
    SKIPPED,
    UNAUTHORIZED,
    FetchResult,
    TweetOutcome,
    parse_tweet_ids,
    run_fetch,
)
from retweetctl.xapi import VIA_RETWEETED_BY, VIA_RETWEETS, XApi, retry_policy_from_env

# How the total line names the tweets not fetched whole, by their status.
NOT_FETCHED = {
    NOT_FOUND: "not found",
    UNAUTHORIZED: "unauthorized",
    RATE_LIMITED: "rate limited",
    ERROR: "failed",
}


class Via(StrEnum):
    """`fetch --via`: the X API endpoint retweeters are read from."""

    RETWEETS = VIA_RETWEETS
    RETWEETED_BY = VIA_RETWEETED_BY


def command(
    ctx: typer.Context,
    tweet_ids: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[TWEET_ID]...",
            help="Tweet IDs or URLs (https://x.com/USER/status/ID); '-' reads one per line from stdin.",
            show_default=False,
        ),
    ] = None,
    watched: bool = typer.Option(False, "--watched", help="Also every tweet on the watch list."),
    limit: int = typer.Option(
        DEFAULT_LIMIT,
        "--limit",
        min=0,
        metavar="N",
        help="At most N retweeters per tweet per run; 0 = all.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Fetch watched tweets even if their retweet_count did not change."
    ),
    via: Annotated[
        Via,
        typer.Option(
            "--via",
            help="The X API endpoint: 'retweets' (retweet ids and times; half the cost per row) "
            "or 'retweeted_by' (users only).",
        ),
    ] = Via.RETWEETS,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing on success (cron)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (IDs as strings)."),
) -> None:
    """Fetch who retweeted the given tweets (and/or the watch list) and store the new rows."""
    ids = parse_tweet_ids(tweet_ids or [], sys.stdin if "-" in (tweet_ids or []) else None)
    if not ids and not watched:
        raise UsageError("give tweet IDs, '-' to read them from stdin, or --watched")
    app_state = state(ctx)
    # No token: exit 78, before any I/O.
    api = XApi(app_state.settings(), retry_policy_from_env(), via=via.value)
    with app_state.connect() as conn:
        on_retry = None if quiet else warn
        if as_json or quiet or not stderr_console.is_terminal:
            result = run_fetch(
                conn, api, ids, include_watched=watched, limit=limit, force=force, on_retry=on_retry
            )
        else:
            with _Bar() as bar:
                result = run_fetch(
                    conn,
                    api,
                    ids,
                    include_watched=watched,
                    limit=limit,
                    force=force,
                    progress=bar,
                    on_retry=on_retry,
                )
    if result.fallback and not as_json and not quiet:
        stderr_console.print(
            f"note: {result.fallback}; fell back to retweeted_by (no retweet times) for the rest "
            "of the run (--via retweeted_by skips the first try)",
            markup=False,
            highlight=False,
        )
    if as_json:
        print(json.dumps(to_json(result)))
    elif not quiet:
        for tweet in result.tweets:
            stdout_console.print(tweet_line(tweet), markup=False, highlight=False)
        stdout_console.print(total_line(result), markup=False, highlight=False)
    if result.exit_code:
        raise RetweetctlError(result.error or "fetch failed", result.exit_code)


def tweet_line(tweet: TweetOutcome) -> str:
    who = f" by @{tweet.author_username}" if tweet.author_username else ""
    if tweet.status == OK:
        return f"{tweet.id}{who}: {tweet.added:,} of {tweet.seen:,} records added"
    if tweet.status == SKIPPED:
        return f"{tweet.id}{who}: skipped: {tweet.detail}"
    counts = f"{tweet.added:,} of {tweet.seen:,} records added; " if tweet.seen else ""
    return f"{tweet.id}{who}: {counts}{tweet.status.replace('_', ' ')}: {tweet.detail}"


def total_line(result: FetchResult) -> str:
    """`M of N records added in total (K tweets fetched, …)`: the tweets fetched (status
    ok), then the others apart by what happened to them."""
    statuses = Counter(t.status for t in result.tweets)
    fetched = statuses[OK]
    apart = [
        f"{statuses[status]} {words}" for status, words in NOT_FETCHED.items() if statuses[status]
    ]
    if result.skipped_unchanged:
        apart.append(f"{result.skipped_unchanged} skipped as unchanged")
    if locked := statuses[SKIPPED] - result.skipped_unchanged:
        apart.append(f"{locked} being fetched by another run")
    tweets = ", ".join([f"{fetched} tweet{'s' if fetched != 1 else ''} fetched", *apart])
    return f"{result.added:,} of {result.seen:,} records added in total ({tweets})"


def to_json(result: FetchResult) -> dict[str, object]:
    return {
        "seen": result.seen,
        "added": result.added,
        "skipped_unchanged": result.skipped_unchanged,
        "fallback": result.fallback,
        "tweets": [
            {
                "id": str(t.id),
                "author_id": None if t.author_id is None else str(t.author_id),
                "author_username": t.author_username,
                "seen": t.seen,
                "added": t.added,
                "status": t.status,
                "detail": t.detail,
            }
            for t in result.tweets
        ],
    }


class _Bar:
    """A rich progress bar on stderr, one task per tweet, sized from its retweet_count."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=stderr_console,
            transient=True,
        )
        self._task: object = None

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, tweet_id: int, expected: int | None) -> None:
        self._task = self._progress.add_task(f"tweet {tweet_id}", total=expected)

    def advance(self, count: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, count)  # type: ignore[arg-type]

    def finish(self) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)  # type: ignore[arg-type]
            self._task = None
