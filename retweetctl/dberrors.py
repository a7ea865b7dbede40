"""What a database error means to the user: an exit code and one line, by psycopg.errors class."""

from __future__ import annotations

import psycopg
from psycopg import errors

from retweetctl.database import first_line
from retweetctl.errors import ExitCode

__all__ = ["DATABASE_FAILURES", "database_failure"]

# Database errors by psycopg.errors class (not SQLSTATE prefixes: psycopg's classes
# have no common base per SQLSTATE class), first match wins: exit code and wording.
DATABASE_FAILURES: tuple[tuple[tuple[type[psycopg.Error], ...], ExitCode, str], ...] = (
    (
        (errors.TransactionRollback, errors.DeadlockDetected, errors.SerializationFailure),
        ExitCode.TEMPORARY,
        "database conflict, the transaction in flight was rolled back; retry",
    ),
    (
        (errors.QueryCanceled,),
        ExitCode.TEMPORARY,
        "the server cancelled a statement (statement_timeout, or an administrator); the"
        " transaction in flight was rolled back; retry later, or raise the role's statement_timeout",
    ),
    (
        (errors.LockNotAvailable,),
        ExitCode.TEMPORARY,
        "a lock was not granted within the server's lock_timeout; retry later",
    ),
    (
        (errors.IdleInTransactionSessionTimeout,),
        ExitCode.TEMPORARY,
        "the server closed the session after idle_in_transaction_session_timeout; the"
        " transaction in flight was rolled back; retry",
    ),
    (
        (errors.InsufficientPrivilege,),
        ExitCode.CONFIG,
        "the database role lacks a right retweetctl needs (README: Configuration, shared server)",
    ),
    ((psycopg.OperationalError,), ExitCode.UNAVAILABLE, "database unavailable"),
)


def database_failure(exc: psycopg.Error) -> tuple[ExitCode, str]:
    """The exit code and line for a database error; SOFTWARE for one that means a bug."""
    detail = first_line(exc)
    for classes, code, wording in DATABASE_FAILURES:
        if isinstance(exc, classes):
            return code, f"{wording}: {detail}"
    return ExitCode.SOFTWARE, detail
