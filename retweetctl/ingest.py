"""The merge: COPY rows into the unlogged staging table, then INSERT … ON CONFLICT DO NOTHING.

Everything for one batch happens inside the caller's transaction: the staged
rows are deleted before it commits, so a run killed at any point leaves neither
half a merge nor staging rows behind, and no table lock is ever taken.
A big batch drops its already-stored rows from staging right after the COPY
(one hash join), so the merge only probes the rest: same result, less time.

Staging is one table shared by every session. A small batch (fetch's tweets)
gets a positive batch id, which a partial index on batch_id covers: its merge
reads its own rows, however many another session has staged. A bulk batch
(load's files) gets a negative id, outside the index, so the COPY pays no index
upkeep; its merge scans staging, as it would read most of it anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

from retweetctl import testpoint
from retweetctl.database import Connection
from retweetctl.distributed import check_deltas, merge_feeds_deltas
from retweetctl.queries import load
from retweetctl.rows import Retweet as Retweet  # re-exported: the merge's row types
from retweetctl.rows import Row as Row
from retweetctl.rows import User as User

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
    """One batch of rows staged by COPY within the current transaction of `conn`.

    bulk=True for batches of many rows (a loaded file): staged outside the
    batch_id index (see the module's docstring and sql/migrations/0004).
    """

    def __init__(self, conn: Connection, *, bulk: bool = False) -> None:
        self.conn = conn
        row = conn.execute("SELECT nextval('retweet_staging_batch_seq')").fetchone()
        assert row is not None
        batch_id = int(row[0])  # type: ignore[call-overload]
        self.batch_id = -batch_id if bulk else batch_id
        self.seen = 0
        self.timed = 0  # staged rows that carry a retweeted_at (pruned ones not counted)
        self.big = False  # pruned: the batch is big next to the table

    def copy(self, rows: Iterable[Row]) -> int:
        """Stream rows into staging; return how many were written.

        Binary COPY: the server reads each id as 8 bytes instead of parsing
        digits, which halved the COPY's wall time in `make bench`. A row that
        is not three ints in the bigint range raises psycopg.DataError, as
        the server did for text COPY, and nothing of the batch is merged.
        """
        rows = testpoint.midway(rows, "copying")  # tests only: see retweetctl/testpoint.py
        count = timed = 0
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
                        if row[4] is not None:  # type: ignore[misc]  # width 6: a Retweet
                            timed += 1
                    else:
                        raise ValueError(f"{width} fields, not 3 or 6")
                    count += 1
            except (OverflowError, TypeError, ValueError) as exc:
                # Text COPY let the server refuse such values; keep the same error class.
                raise psycopg.DataError(
                    f"row {count + 1} of the batch is not a valid retweet row: {exc}"
                ) from exc
        self.seen += count
        self.timed += timed
        if count >= PRUNE_MIN_ROWS and count >= PRUNE_MIN_FRACTION * self._stored_rows():
            self.big = True
            pruned = self._hash_joined("prune_staged")
            self.timed -= int(pruned[0]) if pruned else 0  # type: ignore[call-overload]
        testpoint.reached("copied")  # tests only: see retweetctl/testpoint.py
        return count

    def _stored_rows(self) -> float:
        row = self.conn.execute(load("retweets_estimate")).fetchone()
        return float(row[0]) if row is not None else 0.0  # type: ignore[arg-type]

    def _hash_joined(self, statement: str) -> tuple[object, ...] | None:
        """Run sql/<statement>.sql for the batch with hash joins against retweets.

        prune_staged: remove the batch's staged rows that retweets already holds
        (merge() skips them anyway); merge_backfill_times: fill times, for a big batch.
        """
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
            cur.execute(load(statement), {"batch_id": self.batch_id})
            result = cur.fetchone() if cur.description else None
            cur.execute(
                "SELECT set_config('enable_nestloop', %s, true),"
                " set_config('enable_mergejoin', %s, true)",
                saved,
            )
        return result

    def merge(self) -> MergeResult:
        """Insert the staged rows that are new, fill the times of stored rows that had none;
        remove the batch from staging. A batch without times skips the backfill entirely."""
        params = {"batch_id": self.batch_id}
        # prepare=False: never a generic plan. Planned with the batch id's value, the
        # planner proves `batch_id > 0` and reads a small batch through the partial index.
        with self.conn.cursor() as cur:
            cur.execute(load("merge_staged"), params, prepare=False)
            added = max(cur.rowcount, 0)
            if added and merge_feeds_deltas(self.conn):
                cur.execute(load("citus_merge_deltas"), params)  # Citus: no triggers there
                check_deltas(added, cur.rowcount)
            # After the deltas: a filled row gets this transaction's xmin, which the
            # Citus deltas statement reads as "inserted by this merge".
            if self.big and self.timed >= PRUNE_MIN_ROWS:
                # Many timed rows left after the prune: one hash join. 300k staged rows
                # (EXPLAIN ANALYZE, load average 12): 8.7 s probing row by row, 3.0 s so.
                self._hash_joined("merge_backfill_times")
            elif self.timed:
                cur.execute(load("merge_backfill_times"), params, prepare=False)
            cur.execute(
                "DELETE FROM retweet_staging WHERE batch_id = %(batch_id)s", params, prepare=False
            )
        testpoint.reached("merged")  # tests only: see retweetctl/testpoint.py
        return MergeResult(seen=self.seen, added=added)


def merge_rows(conn: Connection, rows: Iterable[Row], *, bulk: bool = False) -> MergeResult:
    """Merge rows into `retweets` atomically; return how many were seen and added.

    bulk=True for many rows (see StagingBatch).
    """
    with conn.transaction():
        batch = StagingBatch(conn, bulk=bulk)
        batch.copy(rows)
        return batch.merge()


def upsert_users(conn: Connection, users: Iterable[User]) -> None:
    """Record usernames in one statement, in id order (the last of a repeated id wins).

    Every writer locks `users` rows in ascending id order, one sorted upsert per
    transaction, so concurrent writers never wait on each other in a cycle.
    """
    unique = {user[0]: user for user in users}
    if not unique:
        return
    ordered = [unique[key] for key in sorted(unique)]
    conn.execute(
        load("upsert_users"),
        {
            "ids": [u[0] for u in ordered],
            "usernames": [u[1] for u in ordered],
            "names": [u[2] for u in ordered],
        },
    )


def upsert_spooled_users(conn: Connection, first: Iterable[User], rest: Iterable[User]) -> None:
    """upsert_users for more users than memory should hold: COPY to a temporary table, one sorted upsert."""
    with conn.cursor() as cur:
        cur.execute(load("spooled_users_table"))
        with cur.copy("COPY spooled_users (id, username, name) FROM STDIN") as copy:
            for user in first:
                copy.write_row(user)
            for user in rest:
                copy.write_row(user)
        cur.execute(load("upsert_spooled_users"))
        cur.execute("TRUNCATE spooled_users")
