"""One fetch run: look tweets up, page through their retweeters, merge each tweet atomically.

Per tweet: a session advisory lock (so overlapping runs never fetch the same
tweet), then every page read into a PageSpool (memory, spilling to a temporary
file past ~100k rows) with no transaction open while the X API answers or a
retry sleeps, then one short transaction: COPY into staging, the usernames
(one sorted upsert), the merge, the watch-list row and the run's counters. A
run killed at any moment keeps every tweet committed before and nothing of the
one in flight; a tweet whose pages stop midway keeps the pages received.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import psycopg

from retweetctl.conflicts import Notify, retry_conflicts
from retweetctl.database import Connection
from retweetctl.errors import ExitCode, UsageError
from retweetctl.ids import MAX_ID, parse_id_text
from retweetctl.ingest import (
    MergeResult,
    Retweet,
    Row,
    StagingBatch,
    upsert_spooled_users,
    upsert_users,
)
from retweetctl.queries import load
from retweetctl.runaudit import run_audit
from retweetctl.spool import PageSpool
from retweetctl.xapi import ApiFailure, Missing, Page, TweetGone, TweetInfo, XApi, batches

MAX_TWEET_ID = MAX_ID
# A tweet's URL as the apps share it: x.com, twitter.com (www., mobile.), any query or fragment.
TWEET_URL = re.compile(
    r"^(?:https?://)?(?:www\.|mobile\.)?(?:x|twitter)\.com/[A-Za-z0-9_]+/status(?:es)?/"
    r"([0-9]+)/?(?:[?#].*)?$",
    re.IGNORECASE,
)
DEFAULT_LIMIT = 100  # what the old v1.1 retweeters endpoint gave

# Per-tweet statuses (the --json contract) and their exit codes.
OK, NOT_FOUND, UNAUTHORIZED, RATE_LIMITED, ERROR, SKIPPED = (
    "ok",
    "not_found",
    "unauthorized",
    "rate_limited",
    "error",
    "skipped",
)
# ApiFailure.kind -> (status reported for the tweet, exit code of the run).
FAILURE_OUTCOME: dict[str, tuple[str, ExitCode]] = {
    "rate_limited": (RATE_LIMITED, ExitCode.TEMPORARY),
    "unavailable": (ERROR, ExitCode.TEMPORARY),
    "malformed": (ERROR, ExitCode.TEMPORARY),
    "credentials": (UNAUTHORIZED, ExitCode.NO_PERMISSION),
    "config": (ERROR, ExitCode.CONFIG),  # HTTP 400, a 404 from the lookup: fix the settings
}
# Failures after which no further call can succeed in this run.
STOPPING_KINDS = frozenset({"rate_limited", "unavailable", "credentials", "config"})
# Severity for the run's exit code: credentials and config over temporary over success.
SEVERITY = {ExitCode.OK: 0, ExitCode.TEMPORARY: 1, ExitCode.NO_PERMISSION: 2, ExitCode.CONFIG: 2}


class Progress(Protocol):
    """Where a run reports its pages (the CLI draws a progress bar from this)."""

    def start(self, tweet_id: int, expected: int | None) -> None: ...
    def advance(self, count: int) -> None: ...
    def finish(self) -> None: ...


class NoProgress:
    def start(self, tweet_id: int, expected: int | None) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass
class TweetOutcome:
    id: int
    author_id: int | None = None
    author_username: str | None = None
    seen: int = 0
    added: int = 0
    status: str = OK
    detail: str = ""
    exit_code: ExitCode = ExitCode.OK


@dataclass
class FetchResult:
    run_id: int
    tweets: list[TweetOutcome] = field(default_factory=list)
    skipped_unchanged: int = 0
    exit_code: ExitCode = ExitCode.OK
    error: str | None = None  # the message of the most severe failure
    fallback: str | None = None  # why the run fell back to retweeted_by, if it did

    @property
    def seen(self) -> int:
        return sum(t.seen for t in self.tweets)

    @property
    def added(self) -> int:
        return sum(t.added for t in self.tweets)


def parse_tweet_id(text: str, name: str = "TWEET_ID") -> int:
    """A tweet ID (or tweet URL) as a positive 64-bit integer; UsageError naming the argument otherwise."""
    stripped = text.strip()
    url = TWEET_URL.match(stripped)
    value = parse_id_text(url.group(1) if url else stripped)
    if value is None:
        raise UsageError(
            f"invalid {name} {text!r}: give a tweet URL (https://x.com/USER/status/ID) or an ID, "
            f"a positive 64-bit integer (1 to {MAX_TWEET_ID})"
        )
    return value


def parse_tweet_ids(args: Iterable[str], read_stdin: Iterable[str] | None = None) -> list[int]:
    """IDs from arguments ('-' = one per line from stdin), duplicates once, in order given."""
    ids: dict[int, None] = {}
    for arg in args:
        if arg == "-":
            for number, line in enumerate(read_stdin or [], start=1):
                if line.strip():
                    ids[parse_tweet_id(line.strip(), f"tweet ID on stdin line {number}")] = None
        else:
            ids[parse_tweet_id(arg)] = None
    return list(ids)


def run_fetch(
    conn: Connection,
    api: XApi,
    tweet_ids: Sequence[int],
    *,
    include_watched: bool = False,
    limit: int = DEFAULT_LIMIT,
    force: bool = False,
    progress: Progress | None = None,
    on_retry: Notify | None = None,
) -> FetchResult:
    """Fetch the retweeters of tweet_ids (and the watch list); return what happened per tweet.

    A tweet's write transaction that meets a database conflict is retried (conflicts.py);
    on_retry gets one line per retry.
    """
    progress = progress or NoProgress()
    conn.commit()  # whatever connect() read; from here on every transaction is explicit
    conn.autocommit = True
    ids = dict.fromkeys(tweet_ids)
    if include_watched:
        ids.update(dict.fromkeys(int(r[0]) for r in conn.execute(load("fetch_watched_ids"))))  # type: ignore[call-overload]
    with run_audit(conn, "fetch") as audit:
        result = FetchResult(run_id=audit.id)
        # Tweets named on the command line are always fetched; only --watched ones may be skipped.
        run = _Run(conn, api, result, limit, force, progress, frozenset(tweet_ids), on_retry)
        run.all(list(ids))
        result.fallback = api.fallback
        # fetch keeps seen/added current tweet by tweet: the audit leaves them as they are.
        audit.error = result.error
        if result.exit_code != ExitCode.OK:
            audit.status = "failed"
    return result


@dataclass
class _Run:
    conn: Connection
    api: XApi
    result: FetchResult
    limit: int
    force: bool
    progress: Progress
    named: frozenset[int] = frozenset()
    on_retry: Notify | None = None
    stopped: ApiFailure | None = None

    def all(self, ids: list[int]) -> None:
        complete_counts = self._complete_counts([i for i in ids if i not in self.named])
        for batch in batches(ids):
            if self.stopped is not None:
                self._not_fetched(batch)
                continue
            try:
                found, missing = self.api.lookup(batch)
            except ApiFailure as failure:
                for tweet_id in batch:
                    self._fail(TweetOutcome(tweet_id), failure, "the tweet lookup failed: ")
                continue
            by_id = {info.id: info for info in found}
            gone = {m.id: m for m in missing}
            for tweet_id in batch:
                if self.stopped is not None:
                    self._not_fetched([tweet_id])
                elif tweet_id in by_id:
                    self._tweet(by_id[tweet_id], complete_counts)
                else:
                    self._gone(gone.get(tweet_id) or _unreported(tweet_id))

    def _complete_counts(self, ids: list[int]) -> dict[int, int | None]:
        rows = self.conn.execute(load("fetch_watched_state"), {"ids": ids}).fetchall()
        return {int(r[0]): (None if r[1] is None else int(r[1])) for r in rows}  # type: ignore[call-overload]

    def _tweet(self, info: TweetInfo, complete_counts: dict[int, int | None]) -> None:
        outcome = TweetOutcome(info.id, info.author_id, info.author_username)
        watched = info.id in complete_counts
        unchanged = (
            watched
            and not self.force
            and info.retweet_count is not None
            and complete_counts[info.id] == info.retweet_count
        )
        # A session lock, not a transaction's: none is open while the X API answers.
        if not self._lock(info.id):
            outcome.status, outcome.detail = SKIPPED, "another run is fetching this tweet"
            self.result.tweets.append(outcome)
            return
        try:
            if unchanged:
                outcome.status = SKIPPED
                outcome.detail = (
                    f"retweet_count unchanged ({info.retweet_count}) since the last complete check"
                )
                self.result.skipped_unchanged += 1
                with self.conn.transaction():
                    self._mark(info, outcome, complete=True)
                self.result.tweets.append(outcome)
                return
            with PageSpool() as spool:
                failure, gone = self._receive(info, spool)

                def write() -> None:
                    # One transaction from the spooled pages: a conflict rolls all of it
                    # back (the run's counters too), and the retry sends the same rows.
                    with self.conn.transaction():
                        merged = self._write(info, spool)
                        outcome.seen, outcome.added = merged.seen, merged.added
                        if gone is not None:
                            outcome.status, outcome.detail = gone.status, gone.detail
                        self._mark(info, outcome, complete=failure is None and gone is None)
                        self.conn.execute(
                            load("fetch_run_progress"),
                            {
                                "run_id": self.result.run_id,
                                "seen": merged.seen,
                                "added": merged.added,
                            },
                        )

                retry_conflicts(write, f"tweet {info.id}", self.on_retry)
        finally:
            self._unlock(info.id)
        if failure is not None:
            midway = "stopped midway (the pages before are stored): " if outcome.seen else ""
            self._fail(outcome, failure, midway)
        else:
            self.result.tweets.append(outcome)

    def _receive(
        self, info: TweetInfo, spool: PageSpool
    ) -> tuple[ApiFailure | None, TweetGone | None]:
        """Read every page into the spool, keeping what arrived when the API stops midway."""
        failure: ApiFailure | None = None
        gone: TweetGone | None = None
        expected = info.retweet_count
        if expected is not None and self.limit > 0:
            expected = min(expected, self.limit)
        self.progress.start(info.id, expected)
        try:
            for page in self.api.retweeters(info.id, self.limit):
                spool.add(_rows(info, page), page.users)
                self.progress.advance(len(page.users))
        except ApiFailure as exc:
            failure = exc
        except TweetGone as exc:
            gone = exc
        finally:
            self.progress.finish()
        return failure, gone

    def _write(self, info: TweetInfo, spool: PageSpool) -> MergeResult:
        """Stage, name and merge the spooled pages, inside the caller's transaction."""
        batch = StagingBatch(self.conn)
        batch.copy(spool.rows())
        # Users once per tweet in one sorted upsert, before the merge: every writer
        # locks `users` rows in id order, so overlapping runs cannot deadlock.
        author = (info.author_id, info.author_username, info.author_name)
        if spool.spilled:
            upsert_spooled_users(self.conn, [author], spool.users())
        else:
            upsert_users(self.conn, [author, *spool.users()])
        return batch.merge()

    def _gone(self, missing: Missing) -> None:
        outcome = TweetOutcome(missing.id, status=missing.status, detail=missing.detail)
        with self.conn.transaction():
            if self._try_lock(missing.id):
                self._mark(None, outcome, complete=False)
        self.result.tweets.append(outcome)

    def _fail(self, outcome: TweetOutcome, failure: ApiFailure, prefix: str) -> None:
        outcome.status, code = FAILURE_OUTCOME[failure.kind]
        outcome.detail = prefix + failure.message
        outcome.exit_code = code
        self.result.tweets.append(outcome)
        self._raise_exit(code, failure.message)
        if failure.kind in STOPPING_KINDS:
            self.stopped = failure
        elif outcome.status == ERROR:
            with self.conn.transaction():
                if self._try_lock(outcome.id):
                    self._mark(None, outcome, complete=False)

    def _not_fetched(self, ids: Sequence[int]) -> None:
        assert self.stopped is not None
        status, code = FAILURE_OUTCOME[self.stopped.kind]
        for tweet_id in ids:
            self.result.tweets.append(
                TweetOutcome(
                    tweet_id,
                    status=status,
                    detail=f"not fetched: {self.stopped.message}",
                    exit_code=code,
                )
            )

    def _raise_exit(self, code: ExitCode, message: str) -> None:
        if SEVERITY[code] > SEVERITY[self.result.exit_code]:
            self.result.exit_code, self.result.error = code, message
        elif self.result.error is None:
            self.result.error = message

    def _lock(self, tweet_id: int) -> bool:
        row = self.conn.execute(load("fetch_lock"), {"tweet_id": tweet_id}).fetchone()
        return bool(row and row[0])

    def _unlock(self, tweet_id: int) -> None:
        if self.conn.closed:
            return  # the lock went with the session
        # Never hide the error that is stopping the run.
        with contextlib.suppress(psycopg.Error):
            self.conn.execute(load("fetch_unlock"), {"tweet_id": tweet_id})

    def _try_lock(self, tweet_id: int) -> bool:
        row = self.conn.execute(load("fetch_try_lock"), {"tweet_id": tweet_id}).fetchone()
        return bool(row and row[0])

    def _mark(self, info: TweetInfo | None, outcome: TweetOutcome, *, complete: bool) -> None:
        """Record the check on the watch list (a no-op for tweets not watched)."""
        status = outcome.status if outcome.status in (NOT_FOUND, UNAUTHORIZED, ERROR) else "active"
        self.conn.execute(
            load("fetch_mark_watched"),
            {
                "tweet_id": outcome.id,
                "author_id": info.author_id if info else None,
                "retweet_count": info.retweet_count if info else None,
                "complete_retweet_count": info.retweet_count if info and complete else None,
                "added": outcome.added,
                "status": status,
            },
        )


def _rows(info: TweetInfo, page: Page) -> Iterable[Row]:
    """The page as rows: with the retweet's id and time when the endpoint gave them."""
    if page.retweets is None:
        return ((info.id, user[0], info.author_id) for user in page.users)
    return (
        Retweet(info.id, user[0], info.author_id, retweet_id, at)
        for user, (retweet_id, at) in zip(page.users, page.retweets, strict=True)
    )


def _unreported(tweet_id: int) -> Missing:
    return Missing(tweet_id, NOT_FOUND, "the lookup returned neither the tweet nor an error")
