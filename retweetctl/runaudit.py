"""The fetch_runs audit row of a fetch or load run, as one context manager for both.

The row is committed as `running` before the work starts, so a run killed with
-9 leaves its trace; leaving the block records `ok` (or the status the run
set, e.g. `failed` with its error), `failed` for an exception, and
`interrupted` for Ctrl-C or another BaseException.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import psycopg
from psycopg.pq import TransactionStatus

from retweetctl.config import Secret
from retweetctl.database import Connection, first_line
from retweetctl.queries import load

__all__ = ["RunAudit", "run_audit"]

# fetch_runs.error keeps the first this many characters of the message.
ERROR_TEXT_MAX = 1000


@dataclass
class RunAudit:
    """What the run reports when it ends; seen/added None keeps the row's own counters."""

    id: int
    status: str = "ok"
    error: str | None = None
    seen: int | None = None
    added: int | None = None

    def fail(self, error: BaseException | str) -> None:
        self.status = "failed"
        self.error = str(error)[:ERROR_TEXT_MAX]


@contextmanager
def run_audit(conn: Connection, command: str) -> Iterator[RunAudit]:
    """Start the audit row of `command` (committed at once) and finish it however the block ends."""
    with conn.transaction():
        row = conn.execute(load("run_start"), {"command": command}).fetchone()
    assert row is not None and isinstance(row[0], int)
    audit = RunAudit(row[0])
    try:
        yield audit
    except Exception as exc:
        if audit.status == "ok":
            audit.fail(Secret.scrub(first_line(exc)))
        _finish(conn, audit)
        raise
    except BaseException as exc:  # Ctrl-C, SystemExit
        audit.status, audit.error = "interrupted", type(exc).__name__
        _finish(conn, audit)
        raise
    _finish(conn, audit)


def _finish(conn: Connection, audit: RunAudit) -> None:
    if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
        return  # the connection is broken; the row stays `running` as the trace of that
    # Never hide the error that ended the run behind one about its audit row.
    with suppress(psycopg.Error), conn.transaction():
        conn.execute(
            load("run_finish"),
            {
                "run_id": audit.id,
                "seen": audit.seen,
                "added": audit.added,
                "status": audit.status,
                "error": audit.error,
            },
        )
