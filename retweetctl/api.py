"""retweetctl from Python: notebooks, scripts, pandas.

    from retweetctl import api

    with api.connect() as conn:
        api.merge(conn, [api.Retweet(tweet_id=1, retweeter_id=2, author_id=3)])
        matrix = api.read_matrix(conn, top_authors=10)
        frame = matrix.to_pandas()

Every function takes a connection from `connect()` (or any psycopg 3 connection to a
retweetctl database) and leaves it as it found it: an idle connection is idle again
afterwards, and a transaction the caller has open is neither committed nor rolled back
(the work happens in a savepoint of it). The one exception is said where it applies:
`load_file` commits as it goes, so it refuses a connection inside a transaction rather
than commit the caller's work.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from psycopg.pq import TransactionStatus

from retweetctl.aggregate import CatchUp, catch_up
from retweetctl.database import Connection
from retweetctl.errors import UsageError
from retweetctl.ingest import MergeResult, Retweet, Row, merge_rows
from retweetctl.matrix import (
    DEFAULT_TOP_AUTHORS,
    DEFAULT_TOP_RETWEETERS,
    Edge,
    Matrix,
    MatrixQuery,
    Person,
    edges,
    load_matrix,
    resolve_users,
)

if TYPE_CHECKING:
    from retweetctl.load import LoadResult

__all__ = [
    "CatchUp",
    "Edge",
    "Matrix",
    "MergeResult",
    "Person",
    "Retweet",
    "TransactionInProgress",
    "connect",
    "iter_edges",
    "load_file",
    "merge",
    "read_matrix",
    "update_matrix",
]


class TransactionInProgress(UsageError):
    """A function that commits as it goes was handed a connection inside a transaction."""


def connect(database_url: str | None = None) -> Connection:
    """A connection to the configured store (RETWEETCTL_DATABASE_URL, the config file, or the
    embedded server, started if need be), its schema up to date, idle. Use it in a `with`
    block (psycopg commits on a clean exit, rolls back on an exception, then closes)."""
    from retweetctl.config import Secret, load_settings
    from retweetctl.database import connect as open_connection

    settings = load_settings()
    if database_url is not None:
        settings = dataclasses.replace(settings, database_url=Secret(database_url))
    return open_connection(settings)


def merge(conn: Connection, rows: Iterable[Retweet | Row]) -> MergeResult:
    """Add rows to `retweets` atomically (repeats ignored); seen and added counts.

    On an idle connection this is one transaction, committed; inside the caller's
    transaction it is a savepoint there, committed only with it."""
    return merge_rows(conn, rows)


def load_file(
    conn: Connection,
    path: str | Path,
    *,
    format: str = "auto",
    strict: bool = False,
    author: int | None = None,
    rejects: Path | None = None,
) -> LoadResult:
    """Load a twarc2 / X API v2 JSONL or CSV file as `retweetctl load` does; its LoadResult.

    This commits as it goes (a transaction per file, or one with strict=True) and records
    the run in `fetch_runs`, so the connection must be idle: TransactionInProgress
    otherwise. It is idle again afterwards. LoadAborted if the load stopped."""
    from retweetctl.load import LoadOptions, load_files

    _require_idle(conn, "load_file")
    options = LoadOptions(format=format, strict=strict, author=author, rejects=rejects)
    report = load_files(conn, [str(path)], options, rejects_dir=Path(path).parent)
    return report.total()


def read_matrix(
    conn: Connection,
    *,
    top_authors: int | None = DEFAULT_TOP_AUTHORS,
    top_retweeters: int | None = DEFAULT_TOP_RETWEETERS,
    authors: Sequence[int | str] | None = None,
    retweeters: Sequence[int | str] | None = None,
    min_count: int = 1,
) -> Matrix:
    """The matrix as `retweetctl matrix` shows it (None for a top-N: no limit; authors and
    retweeters as ids or "@names"), read in one snapshot. Matrix.to_pandas() and
    Matrix.records() turn it into a DataFrame or dicts."""
    query = MatrixQuery(
        top_authors=top_authors,
        top_retweeters=top_retweeters,
        authors=_users(conn, authors),
        retweeters=_users(conn, retweeters),
        min_count=min_count,
    )
    return load_matrix(conn, query)


def iter_edges(
    conn: Connection,
    *,
    authors: Sequence[int | str] | None = None,
    retweeters: Sequence[int | str] | None = None,
    min_count: int = 1,
) -> Iterator[Edge]:
    """Every non-zero cell the filters keep, by (retweeter, author), streamed in constant
    memory through a server-side cursor. Consume it before using `conn` for anything else."""
    query = MatrixQuery(
        authors=_users(conn, authors), retweeters=_users(conn, retweeters), min_count=min_count
    )
    return edges(conn, query)


def update_matrix(conn: Connection) -> CatchUp:
    """Fold the rows added since the last update into the matrix aggregate now (reads do it
    anyway; this lets the cost be paid at a time of your choosing)."""
    return catch_up(conn)


def _users(conn: Connection, users: Sequence[int | str] | None) -> tuple[int, ...] | None:
    if users is None:
        return None
    return resolve_users(conn, [str(u) for u in users])


def _require_idle(conn: Connection, name: str) -> None:
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise TransactionInProgress(
            f"{name} commits as it goes: call it on an idle connection (commit or roll back first)"
        )
