"""The merge: COPY rows into the unlogged staging table, then INSERT … ON CONFLICT DO NOTHING.

Everything for one batch happens inside the caller's transaction: the staged
rows are deleted before it commits, so a run killed at any point leaves neither
half a merge nor staging rows behind, and no table lock is ever taken.
A big batch drops its already-stored rows from staging right after the COPY
(one hash join), so the merge only probes the rest: same result, less time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import psycopg

from retweetctl.database import Connection
from retweetctl.distributed import check_deltas, merge_feeds_deltas
from retweetctl.queries import load


class Retweet(NamedTuple):
    """One retweet with what its source says about it (see sql/migrations/0003).

    Ids are positive 64-bit integers. retweet_id and retweeted_at are None when
    the source does not give them (the retweeted_by endpoint, a CSV without those
    columns); author_from_mention is True when the author was read from the
    retweet's `RT @name:` mention because the original was missing.
    """

    tweet_id: int
    retweeter_id: int
    author_id: int
    retweet_id: int | None = None
    retweeted_at: datetime | None = None
    author_from_mention: bool = False


# A row to merge: a Retweet, or a plain (tweet_id, retweeter_id, author_id) triple,
# the details then unknown.
Row = Retweet | tuple[int, int, int]
# (id, username, name)
User = tuple[int, str | None, str | None]

STAGING_COLUMNS = (
    "batch_id, tweet_id, retweeter_id, author_id, retweet_id, retweeted_at, author_from_mention"
)
# Binary COPY needs the column types spelled out, in STAGING_COLUMNS order.
STAGING_TYPES = ["int8", "int8", "int8", "int8", "int8", "timestamptz", "bool"]
# The details of a plain triple: unknown id and time, author from the original.
_NO_DETAILS = (None, None, False)
# A copy() of at least PRUNE_MIN_ROWS rows and at least PRUNE_MIN_FRACTION of the
# stored rows first drops the staged rows already stored, by one hash join: one pass
# over retweets beats the merge's primary-key probe per staged row when the batch is
# big next to the table. `make bench` variants, batch of 1M rows: 14-35% faster into
# 1M stored rows, 23% into 2M, 26% into 5M, break-even into 10M (noisy: -16% to +28%).
# Small batches (fetch's pages) never pay for a pass over the table.
PRUNE_MIN_ROWS = 50_000
PRUNE_MIN_FRACTION = 0.2


@dataclass(frozen=True)
class MergeResult:
    """seen: rows offered (repeats included); added: rows that were new to `retweets`."""

    seen: int = 0
    added: int = 0

    def __add__(self, other: MergeResult) -> MergeResult:
        return MergeResult(self.seen + other.seen, self.added + other.added)


class StagingBatch:
    """One batch of rows staged by COPY within the current transaction of `conn`."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        row = conn.execute("SELECT nextval('retweet_staging_batch_seq')").fetchone()
        assert row is not None
        self.batch_id = int(row[0])  # type: ignore[call-overload]
        self.seen = 0

    def copy(self, rows: Iterable[Row]) -> int:
        """Stream rows into staging; return how many were written.

        Binary COPY: the server reads each id as 8 bytes instead of parsing
        digits, which halved the COPY's wall time in `make bench`. A row that
        is not three ints in the bigint range raises psycopg.DataError, as
        the server did for text COPY, and nothing of the batch is merged.
        """
        count = 0
        batch = self.batch_id
        with (
            self.conn.cursor() as cur,
            cur.copy(
                f"COPY retweet_staging ({STAGING_COLUMNS}) FROM STDIN (FORMAT BINARY)"  # noqa: S608 - constant text
            ) as copy,
        ):
            copy.set_types(STAGING_TYPES)
            write_row = copy.write_row
            no_details = _NO_DETAILS
            try:
                for row in rows:
                    width = len(row)
                    if width == 3:
                        write_row((batch, *row, *no_details))
                    elif width == 6:
                        write_row((batch, *row))
                    else:
                        raise ValueError(f"{width} fields, not 3 or 6")
                    count += 1
            except (OverflowError, TypeError, ValueError) as exc:
                # Text COPY let the server refuse such values; keep the same error class.
                raise psycopg.DataError(
                    f"row {count + 1} of the batch is not a valid retweet row: {exc}"
                ) from exc
        self.seen += count
        if count >= PRUNE_MIN_ROWS and count >= PRUNE_MIN_FRACTION * self._stored_rows():
            self._prune()
        return count

    def _stored_rows(self) -> float:
        row = self.conn.execute(load("retweets_estimate")).fetchone()
        return float(row[0]) if row is not None else 0.0  # type: ignore[arg-type]

    def _prune(self) -> None:
        """Remove the batch's staged rows that retweets already holds (merge() skips them anyway)."""
        # The planner has no statistics for one batch (it guesses a few thousand rows)
        # and would probe row by row: nested loop and merge joins go off for this
        # statement only, and the caller's settings come back after it.
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT current_setting('enable_nestloop'), current_setting('enable_mergejoin')"
            )
            saved = cur.fetchone()
            assert saved is not None
            # set_config(..., true) is SET LOCAL: undone by a rollback as well.
            cur.execute(
                "SELECT set_config('enable_nestloop', 'off', true),"
                " set_config('enable_mergejoin', 'off', true)"
            )
            cur.execute(load("prune_staged"), {"batch_id": self.batch_id})
            cur.execute(
                "SELECT set_config('enable_nestloop', %s, true),"
                " set_config('enable_mergejoin', %s, true)",
                saved,
            )

    def merge(self) -> MergeResult:
        """Insert the staged rows that are new; remove the batch from staging."""
        params = {"batch_id": self.batch_id}
        with self.conn.cursor() as cur:
            cur.execute(load("merge_staged"), params)
            added = max(cur.rowcount, 0)
            if added and merge_feeds_deltas(self.conn):
                cur.execute(load("citus_merge_deltas"), params)  # Citus: no triggers there
                check_deltas(added, cur.rowcount)
            cur.execute("DELETE FROM retweet_staging WHERE batch_id = %(batch_id)s", params)
        return MergeResult(seen=self.seen, added=added)


def merge_rows(conn: Connection, rows: Iterable[Row]) -> MergeResult:
    """Merge rows into `retweets` atomically; return how many were seen and added."""
    with conn.transaction():
        batch = StagingBatch(conn)
        batch.copy(rows)
        return batch.merge()


def upsert_users(conn: Connection, users: Iterable[User]) -> None:
    """Record usernames; sorted by id so concurrent writers lock rows in the same order."""
    unique = {user[0]: user for user in users}
    if not unique:
        return
    with conn.cursor() as cur:
        cur.executemany(load("upsert_users"), [unique[key] for key in sorted(unique)])
