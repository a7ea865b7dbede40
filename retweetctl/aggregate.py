"""The author-by-retweeter aggregate: catch it up from the pending deltas, and check it.

Triggers on `retweets` (migration 0002) append one delta per row that really
changed, in the writer's transaction; `catch_up` folds them into the cells, the
totals and the retweeter ranks (migration 0006). One catch-up runs at a time (an
advisory lock), so deltas are counted exactly once and the upserts never deadlock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import astuple, dataclass
from typing import Protocol

from psycopg import IsolationLevel, sql

from retweetctl.database import Connection
from retweetctl.queries import load

log = logging.getLogger(__name__)

# Any fixed 64-bit key works; this one spells "rtwtagg1" so it is recognisable in pg_locks.
CATCH_UP_LOCK_KEY = 0x7274777461676731
# Enough differences to see what went wrong without flooding the terminal.
DIFFERENCES_SHOWN = 20
# The sorts of a catch-up after a 1M-row load fit in this (the default 4MB spills to disk).
CATCH_UP_WORK_MEM = "64MB"
# Pending deltas from which a catch-up takes them all first, summed per cell in key
# order, and folds them a range of keys at a time (so a progress bar moves); fewer
# are folded in one statement, as are all on Citus.
CATCH_UP_CHUNK_ROWS = 100_000
# Pages of those summed changes folded per statement: at 136 changes per 8 kB page (a
# 56-byte row and its line pointer), 100,000 changes, about a second of work at 10M rows.
CATCH_UP_CHUNK_PAGES = 736
# The largest block number a TID can hold: the open end of the last range.
LAST_PAGE = 4_294_967_295
# Retweeters kept in rank order (retweet_retweeter_ranks, migration 0006, which fills as
# many): readers need the first 50 and the ranking walk at most 10,000
# (matrix.RANK_SCAN_LIMIT); a longer list is sorted from the totals.
RANKED_RETWEETERS = 10_000


class Progress(Protocol):
    def __call__(self, done: int, total: int) -> None: ...


@dataclass(frozen=True)
class CatchUp:
    """deltas: pending delta rows folded in; new_cells: cells that did not exist before."""

    deltas: int = 0
    new_cells: int = 0


@dataclass(frozen=True)
class Difference:
    what: str  # "cell 5 x 7", "author 7", "retweeter 5", "size authors"
    aggregate: int | None
    fresh: int | None

    def describe(self) -> str:
        return f"{self.what}: aggregate {_or_missing(self.aggregate)}, retweets {_or_missing(self.fresh)}"


@dataclass(frozen=True)
class CheckResult:
    cells: int
    authors: int
    retweeters: int
    differences: int  # how many in all
    shown: list[Difference]  # the first few of them

    @property
    def ok(self) -> bool:
        return self.differences == 0


def _or_missing(value: int | None) -> str:
    return "missing" if value is None else str(value)


def catch_up(conn: Connection, progress: Progress | None = None) -> CatchUp:
    """Fold pending deltas into the aggregate; cheap when none are pending.

    On an idle connection this is its own transaction (committed, the connection left
    idle); inside the caller's transaction it is a savepoint there and commits nothing
    (the catch-up lock is then held until the caller ends its transaction).
    `progress(done, total)` is told the pending rows first (done = 0), then after each
    chunk of the deltas table.
    """
    with conn.transaction():
        # LIMIT 1: on Citus a bare EXISTS pulls every pending delta to the coordinator.
        pending = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM retweet_cell_deltas LIMIT 1)"
        ).fetchone()
        if not pending or not pending[0]:
            return CatchUp()
        started = time.perf_counter()
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (CATCH_UP_LOCK_KEY,))
        done = _catch_up_locked(conn, progress)
    log.debug(
        "matrix catch-up: %s deltas folded, %s new cells, %.2f s (with its lock wait and commit)",
        f"{done.deltas:,}",
        f"{done.new_cells:,}",
        time.perf_counter() - started,
    )
    return done


def _catch_up_locked(conn: Connection, progress: Progress | None = None) -> CatchUp:
    """Up to CATCH_UP_CHUNK_ROWS pending deltas (and all on Citus, where the deltas table is
    distributed: its coordinator table has no pages) fold in one statement; more are taken
    at once, summed per cell in key order, and folded a range of keys at a time."""
    conn.execute("SELECT set_config('work_mem', %s, true)", (CATCH_UP_WORK_MEM,))
    row = conn.execute(load("aggregate_pending")).fetchone()
    assert row is not None
    pages, total, retweeters = (int(v) for v in row)  # type: ignore[call-overload]
    if progress is not None:
        progress(0, total)
    if total > CATCH_UP_CHUNK_ROWS and pages > 0:
        folded = _fold_in_chunks(conn, total, retweeters, progress)
    else:
        folded = _fold(conn, load("aggregate_changes_taken"), {}, retweeters, authors=True)
        if progress is not None:
            progress(min(folded.deltas, total), total)
    gone = (0, 0, 0)
    if folded.decreased:
        zeros = conn.execute(load("aggregate_remove_zeros")).fetchone()
        assert zeros is not None
        gone = tuple(int(v) for v in zeros)  # type: ignore[call-overload]
        # A total went down: the ranks' shortcut no longer holds; rank the totals again.
        conn.execute(load("aggregate_ranks_rebuild"))
        conn.execute(load("aggregate_ranks_fill"), {"ranked": RANKED_RETWEETERS})
    if folded.new_cells or folded.new_authors or folded.new_retweeters or folded.decreased:
        conn.execute(
            load("aggregate_sizes_update"),
            {
                "cells": folded.new_cells - gone[0],
                "authors": folded.new_authors - gone[1],
                "retweeters": folded.new_retweeters - gone[2],
            },
        )
    return CatchUp(deltas=folded.deltas, new_cells=folded.new_cells)


@dataclass(frozen=True)
class _Folded:
    deltas: int = 0
    new_cells: int = 0
    new_authors: int = 0
    new_retweeters: int = 0
    decreased: int = 0

    def __add__(self, other: _Folded) -> _Folded:
        return _Folded(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


def _fold(
    conn: Connection,
    changes: sql.Composable,
    params: Mapping[str, object],
    retweeters: int,
    *,
    authors: bool,
) -> _Folded:
    """One aggregate_catch_up statement over `changes` (the aggregate holding `retweeters`
    before it), then the ranks trimmed back to RANKED_RETWEETERS."""
    row = conn.execute(
        load("aggregate_catch_up").format(changes=changes),
        {
            **params,
            "authors": authors,
            "ranked": RANKED_RETWEETERS,
            "ranks_full": retweeters >= RANKED_RETWEETERS,
        },
    ).fetchone()
    assert row is not None
    deltas, new_cells, new_authors, new_retweeters, decreased, newly_ranked = (
        int(v)  # type: ignore[call-overload]
        for v in row
    )
    excess = min(retweeters, RANKED_RETWEETERS) + newly_ranked - RANKED_RETWEETERS
    if excess > 0:
        conn.execute(load("aggregate_ranks_trim"), {"excess": excess})
    return _Folded(deltas, new_cells, new_authors, new_retweeters, decreased)


def _fold_in_chunks(
    conn: Connection, total: int, retweeters: int, progress: Progress | None
) -> _Folded:
    """Take every pending delta, summed per cell in key order, into a temporary table, then
    fold it CATCH_UP_CHUNK_PAGES pages (a key range) at a time; the author totals once.

    Each key is folded once and each page of the cells' index is visited about once,
    so the chunks cost no more than one statement would, and progress can be shown."""
    conn.execute(load("aggregate_changes_create"))
    conn.execute("TRUNCATE retweet_catch_up_changes")  # an earlier catch-up's, same transaction
    conn.execute(load("aggregate_changes_take"))
    size = conn.execute(
        "SELECT pg_relation_size('retweet_catch_up_changes') / current_setting('block_size')::int"
    ).fetchone()
    assert size is not None
    pages = int(size[0])  # type: ignore[call-overload]
    folded = _Folded()
    for start in range(0, pages, CATCH_UP_CHUNK_PAGES):
        end = start + CATCH_UP_CHUNK_PAGES
        bounds = {"from": f"({start},0)", "to": f"({end if end < pages else LAST_PAGE},0)"}
        folded += _fold(
            conn,
            load("aggregate_changes_range"),
            bounds,
            retweeters + folded.new_retweeters,
            authors=False,
        )
        if progress is not None:
            progress(min(folded.deltas, total), total)
    new_authors = conn.execute(load("aggregate_changes_authors")).fetchone()
    assert new_authors is not None
    return folded + _Folded(new_authors=int(new_authors[0]))  # type: ignore[call-overload]


def check(conn: Connection, limit: int = DIFFERENCES_SHOWN) -> CheckResult:
    """Catch up, then compare the aggregate with a fresh GROUP BY over `retweets`, in one snapshot.

    The catch-up lock is held across the snapshot, so no other catch-up can
    take deltas this snapshot still counts on neither side.
    """
    conn.execute("SELECT pg_advisory_lock(%s)", (CATCH_UP_LOCK_KEY,))
    conn.commit()
    try:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        with conn.transaction():
            _catch_up_locked(conn)
            return _compare(conn, limit)
    finally:
        conn.isolation_level = None
        conn.execute("SELECT pg_advisory_unlock(%s)", (CATCH_UP_LOCK_KEY,))
        conn.commit()


def _compare(conn: Connection, limit: int) -> CheckResult:
    shown: list[Difference] = []
    differences = 0
    params = {"limit": limit}
    for row in conn.execute(load("aggregate_check_cells"), params):
        shown.append(
            Difference(f"cell retweeter {row[0]} x author {row[1]}", _int(row[2]), _int(row[3]))
        )
        differences = int(row[4])  # type: ignore[call-overload]
    for kind, name in (
        ("author", "aggregate_check_author_totals"),
        ("retweeter", "aggregate_check_retweeter_totals"),
        ("ranked retweeter", "aggregate_check_ranks"),
    ):
        found = 0
        for row in conn.execute(load(name), {**params, "ranked": RANKED_RETWEETERS}):
            shown.append(Difference(f"{kind} {row[0]} total", _int(row[1]), _int(row[2])))
            found = int(row[3])  # type: ignore[call-overload]
        differences += found
    sizes = conn.execute(load("aggregate_check_sizes")).fetchone()
    if sizes is None:
        shown.append(Difference("recorded sizes", None, 0))
        differences += 1
        sizes = (0, 0, 0, 0, 0, 0)
    recorded_authors, authors, recorded_retweeters, retweeters, recorded_cells, cells = (
        int(v)  # type: ignore[call-overload]
        for v in sizes
    )
    for name, recorded, actual in (
        ("authors", recorded_authors, authors),
        ("retweeters", recorded_retweeters, retweeters),
        ("cells", recorded_cells, cells),
    ):
        if recorded != actual:
            shown.append(Difference(f"recorded number of {name}", recorded, actual))
            differences += 1
    return CheckResult(
        cells=cells,
        authors=authors,
        retweeters=retweeters,
        differences=differences,
        shown=shown[:limit],
    )


def _int(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]
