"""Retrying one transaction that the server rolled back for a conflict (40P01, 40001).

A deadlock or serialization failure rolls back only the transaction in
flight; run again, the same transaction normally succeeds. On a Citus cluster
these include distributed deadlocks, which the coordinator breaks by
cancelling one of the transactions. Only work whose input can be given again
is retried: fetch's spooled pages, a regular file of load.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from psycopg import errors

from retweetctl.errors import TemporaryFailure

__all__ = ["CONFLICT_ATTEMPTS", "CONFLICTS", "Notify", "conflict_reason", "retry_conflicts"]

# Attempts in all (the first and two retries): one deadlock victim is chosen per
# cycle, so a retry usually meets no partner; a third conflict in a row means
# steady contention, which retrying at once will not clear: exit 75, run it later.
CONFLICT_ATTEMPTS = 3
# Backoff before retry n: up to n * this many seconds, jittered so two victims of
# the same conflict do not meet again at once; short next to a tweet's HTTP calls.
CONFLICT_BACKOFF_SECONDS = 0.1
CONFLICTS = (errors.DeadlockDetected, errors.SerializationFailure)

T = TypeVar("T")
# Receives one line per retry (the CLI writes it on stderr unless --quiet).
Notify = Callable[[str], None]


def conflict_reason(exc: BaseException) -> str:
    return (
        "deadlock detected" if isinstance(exc, errors.DeadlockDetected) else "serialization failure"
    )


def retry_conflicts(attempt: Callable[[], T], what: str, notify: Notify | None = None) -> T:
    """attempt() (one whole transaction) until it commits, up to CONFLICT_ATTEMPTS times.

    The last conflict becomes a TemporaryFailure (exit 75) naming `what`.
    """
    for number in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            return attempt()
        except CONFLICTS as exc:
            reason = conflict_reason(exc)
            if number == CONFLICT_ATTEMPTS:
                raise TemporaryFailure(
                    f"database conflict ({reason}) on {what}, {CONFLICT_ATTEMPTS} attempts"
                    " rolled back; retry the command"
                ) from exc
            if notify is not None:
                notify(
                    f"retweetctl: database conflict ({reason}), retrying {what}"
                    f" (attempt {number + 1} of {CONFLICT_ATTEMPTS})"
                )
            time.sleep(random.uniform(0, number * CONFLICT_BACKOFF_SECONDS))  # noqa: S311 - jitter
    raise AssertionError("unreachable")
