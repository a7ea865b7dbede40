"""The author-by-retweeter aggregate: catch it up from the pending deltas, and check it.

Triggers on `retweets` (migration 0002) append one delta per row that really
changed, in the writer's transaction; `catch_up` folds them into the cells and
the totals. One catch-up runs at a time (an advisory lock), so deltas are
counted exactly once and the upserts never deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import IsolationLevel

from retweetctl.database import Connection
from retweetctl.queries import load

# Any fixed 64-bit key works; this one spells "rtwtagg1" so it is recognisable in pg_locks.
CATCH_UP_LOCK_KEY = 0x7274777461676731
# Enough differences to see what went wrong without flooding the terminal.
DIFFERENCES_SHOWN = 20
# The sorts of a catch-up after a 1M-row load fit in this (the default 4MB spills to disk).
CATCH_UP_WORK_MEM = "64MB"


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


def catch_up(conn: Connection) -> CatchUp:
    """Fold pending deltas into the aggregate, in its own transaction; cheap when none are pending."""
    with conn.transaction():
        # LIMIT 1: on Citus a bare EXISTS pulls every pending delta to the coordinator.
        pending = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM retweet_cell_deltas LIMIT 1)"
        ).fetchone()
        if not pending or not pending[0]:
            return CatchUp()
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (CATCH_UP_LOCK_KEY,))
        return _catch_up_locked(conn)


def _catch_up_locked(conn: Connection) -> CatchUp:
    conn.execute("SELECT set_config('work_mem', %s, true)", (CATCH_UP_WORK_MEM,))
    row = conn.execute(load("aggregate_catch_up")).fetchone()
    assert row is not None
    deltas, new_cells, new_authors, new_retweeters, decreased = (int(v) for v in row)  # type: ignore[call-overload]
    gone = (0, 0, 0)
    if decreased:
        zeros = conn.execute(load("aggregate_remove_zeros")).fetchone()
        assert zeros is not None
        gone = tuple(int(v) for v in zeros)  # type: ignore[call-overload]
    if new_cells or new_authors or new_retweeters or decreased:
        conn.execute(
            load("aggregate_sizes_update"),
            {
                "cells": new_cells - gone[0],
                "authors": new_authors - gone[1],
                "retweeters": new_retweeters - gone[2],
            },
        )
    return CatchUp(deltas=deltas, new_cells=new_cells)


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
    for kind in ("author", "retweeter"):
        found = 0
        for row in conn.execute(load(f"aggregate_check_{kind}_totals"), params):
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
