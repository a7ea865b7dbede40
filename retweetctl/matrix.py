"""The author-by-retweeter matrix, read from the aggregate (see retweetctl.aggregate).

Without filters the top-N comes from the totals indexed by total and the
cells from primary-key probes, so it costs what the shown cells cost. Filters
(--author, --retweeter, --min-count) rank over the cells they keep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus

from retweetctl.aggregate import catch_up
from retweetctl.database import Connection
from retweetctl.errors import UsageError
from retweetctl.ids import parse_id_text
from retweetctl.queries import load

DEFAULT_TOP_AUTHORS = 20
DEFAULT_TOP_RETWEETERS = 50
# Rows fetched per round trip by the edges cursor: large enough to amortise
# the round trip, small enough that memory stays flat.
EDGES_FETCH_ROWS = 10_000
# X user ids are positive 64-bit integers; the table refuses anything else.
_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")


@dataclass(frozen=True)
class Person:
    """An author (a column) or a retweeter (a row), with its total in the matrix."""

    id: int
    username: str | None
    total: int

    def label(self, ids: bool = False) -> str:
        return f"@{self.username}" if self.username and not ids else str(self.id)


@dataclass(frozen=True)
class MatrixQuery:
    """What to show. None for a top-N means no limit; None for a filter means everyone."""

    top_authors: int | None = DEFAULT_TOP_AUTHORS
    top_retweeters: int | None = DEFAULT_TOP_RETWEETERS
    authors: tuple[int, ...] | None = None
    retweeters: tuple[int, ...] | None = None
    min_count: int = 1

    @property
    def filtered(self) -> bool:
        return self.authors is not None or self.retweeters is not None or self.min_count > 1


@dataclass(frozen=True)
class Matrix:
    """Rows are retweeters, columns authors, each ranked by total descending, ties by id."""

    authors: list[Person]
    retweeters: list[Person]
    # (row index, column index) -> count; zero cells are absent.
    cells: dict[tuple[int, int], int] = field(default_factory=dict)
    authors_left_out: int = 0
    retweeters_left_out: int = 0
    # False when `retweets` holds nothing at all (as opposed to filters keeping nothing).
    has_retweets: bool = True

    def count(self, row: int, column: int) -> int:
        return self.cells.get((row, column), 0)

    def row(self, row: int) -> list[int]:
        return [self.cells.get((row, column), 0) for column in range(len(self.authors))]

    @property
    def size(self) -> int:
        """How many cells the dense matrix has."""
        return len(self.authors) * len(self.retweeters)


@dataclass(frozen=True)
class Edge:
    retweeter_id: int
    retweeter_username: str | None
    author_id: int
    author_username: str | None
    count: int


def parse_user(spec: str) -> int | str:
    """An id (int) or a username without its @ (str); UsageError naming a bad one."""
    text = spec.strip()
    if text.startswith("@"):
        if _USERNAME.match(text[1:]):
            return text[1:]
        raise UsageError(f"bad username {spec!r}: letters, digits and _ after the @")
    number = parse_id_text(text)
    if number is not None:
        return number
    raise UsageError(f"bad user {spec!r}: give a positive numeric id or @username")


def resolve_users(conn: Connection, specs: Sequence[str]) -> tuple[int, ...]:
    """Ids for ids and @names (in the order given, repeats dropped); UsageError for an unknown name."""
    ids: list[int] = []
    for spec in specs:
        parsed = parse_user(spec)
        if isinstance(parsed, str):
            row = conn.execute(load("matrix_user_by_name"), {"username": parsed}).fetchone()
            if row is None:
                raise UsageError(f"unknown user @{parsed}: no such username in the users table")
            parsed = int(row[0])  # type: ignore[call-overload]
        if parsed not in ids:
            ids.append(parsed)
    conn.rollback()  # leave the connection idle for the caller's transactions
    return tuple(ids)


def has_retweets(conn: Connection) -> bool:
    row = conn.execute(load("matrix_has_retweets")).fetchone()
    return bool(row and row[0])


def load_matrix(conn: Connection, query: MatrixQuery) -> Matrix:
    """Catch the aggregate up, then read the matrix in one consistent snapshot."""
    catch_up(conn)
    if conn.info.transaction_status != TransactionStatus.IDLE:
        # Inside the caller's transaction: read there, with its isolation.
        with conn.transaction():
            return _read_all(conn, query)
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    try:
        with conn.transaction():
            return _read_all(conn, query)
    finally:
        conn.isolation_level = None


def _read_all(conn: Connection, query: MatrixQuery) -> Matrix:
    if not has_retweets(conn):
        return Matrix(authors=[], retweeters=[], has_retweets=False)
    return _read(conn, query)


def _read(conn: Connection, query: MatrixQuery) -> Matrix:
    if query.filtered:
        conn.execute(load("matrix_filter_create"))
        conn.execute(
            load("matrix_filter_fill"),
            {
                "authors": _list(query.authors),
                "retweeters": _list(query.retweeters),
                "min_count": query.min_count,
            },
        )
        authors, all_authors = _ranked_filtered(
            conn, "matrix_filtered_top_authors", query.top_authors
        )
        retweeters, all_retweeters = _ranked_filtered(
            conn, "matrix_filtered_top_retweeters", query.top_retweeters
        )
        cells_sql = "matrix_filtered_cells"
    else:
        authors = _ranked(conn, "matrix_top_authors", query.top_authors)
        retweeters = _ranked(conn, "matrix_top_retweeters", query.top_retweeters)
        sizes = conn.execute(load("matrix_sizes")).fetchone()
        assert sizes is not None
        all_authors, all_retweeters = int(sizes[0]), int(sizes[1])  # type: ignore[call-overload]
        cells_sql = "matrix_cells"
    column = {author_id: j for j, (author_id, _) in enumerate(authors)}
    row = {retweeter_id: i for i, (retweeter_id, _) in enumerate(retweeters)}
    cells: dict[tuple[int, int], int] = {}
    if column and row:
        for retweeter_id, author_id, n in conn.execute(
            load(cells_sql), {"retweeters": list(row), "authors": list(column)}
        ):
            cells[(row[retweeter_id], column[author_id])] = int(n)  # type: ignore[call-overload, index]
    names = _usernames(conn, [*column, *row])
    return Matrix(
        authors=[Person(i, names.get(i), total) for i, total in authors],
        retweeters=[Person(i, names.get(i), total) for i, total in retweeters],
        cells=cells,
        authors_left_out=all_authors - len(authors),
        retweeters_left_out=all_retweeters - len(retweeters),
    )


def _ranked(conn: Connection, name: str, limit: int | None) -> list[tuple[int, int]]:
    return [
        (int(i), int(total))  # type: ignore[call-overload]
        for i, total in conn.execute(load(name), {"limit": limit})
    ]


def _ranked_filtered(
    conn: Connection, name: str, limit: int | None
) -> tuple[list[tuple[int, int]], int]:
    ranked: list[tuple[int, int]] = []
    everyone = 0
    for i, total, count in conn.execute(load(name), {"limit": limit}):
        ranked.append((int(i), int(total)))  # type: ignore[call-overload]
        everyone = int(count)  # type: ignore[call-overload]
    return ranked, everyone


def _usernames(conn: Connection, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        int(i): str(name)  # type: ignore[call-overload]
        for i, name in conn.execute(load("matrix_usernames"), {"ids": ids})
    }


def _list(ids: tuple[int, ...] | None) -> list[int] | None:
    return None if ids is None else list(ids)


def edges(conn: Connection, query: MatrixQuery) -> Iterator[Edge]:
    """Every non-zero cell the filters keep, ordered by (retweeter, author), streamed.

    The top-N limits of `query` do not apply: edges is the complete export.
    A server-side cursor keeps memory constant; the caller must consume the
    iterator before using `conn` for anything else.
    """
    catch_up(conn)
    params = {
        "authors": _list(query.authors),
        "retweeters": _list(query.retweeters),
        "min_count": query.min_count,
    }
    with conn.transaction(), conn.cursor(name="retweetctl_edges") as cursor:
        cursor.itersize = EDGES_FETCH_ROWS
        cursor.execute(load("matrix_edges"), params)
        for retweeter_id, retweeter_name, author_id, author_name, n in cursor:
            yield Edge(
                int(retweeter_id),  # type: ignore[call-overload]
                None if retweeter_name is None else str(retweeter_name),
                int(author_id),  # type: ignore[call-overload]
                None if author_name is None else str(author_name),
                int(n),  # type: ignore[call-overload]
            )
