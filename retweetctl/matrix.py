"""The author-by-retweeter matrix, read from the aggregate (see retweetctl.aggregate).

Without filters the top-N comes from the totals indexed by total and the
cells from primary-key probes, so it costs what the shown cells cost. Filters
(--author, --retweeter, --min-count) rank over the cells they keep.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from psycopg import IsolationLevel
from psycopg.pq import TransactionStatus

from retweetctl.aggregate import RANKED_RETWEETERS, catch_up
from retweetctl.database import Connection
from retweetctl.errors import UsageError
from retweetctl.ids import parse_id_text
from retweetctl.queries import load

DEFAULT_TOP_AUTHORS = 20
DEFAULT_TOP_RETWEETERS = 50
# Rows fetched per round trip by the edges cursor: large enough to amortise
# the round trip, small enough that memory stays flat.
EDGES_FETCH_ROWS = 10_000
# Retweeters read from the rank index per round trip when ranking within the chosen
# authors: 1,000 ids x 20 authors is one batch of primary-key probes of a few ms.
RANK_BATCH = 1_000
# The ranking walk gives way to a scan of the chosen authors' cells after this many
# retweeters without settling (authors the heavy retweeters do not favour: uniform
# data): 10 batches, a third of a second, about what that scan costs at 5-10M cells
# (0.24-0.27 s for 20 authors in 5M uniform cells, /work/exp/scan.py, 2026-12-01).
# It walks the ranks, which hold that many (or every retweeter when there are fewer).
RANK_SCAN_LIMIT = RANKED_RETWEETERS
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
    # A time window [since, until): only retweets whose time is known and inside it.
    since: datetime | None = None
    until: datetime | None = None

    @property
    def windowed(self) -> bool:
        return self.since is not None or self.until is not None

    @property
    def filtered(self) -> bool:
        return (
            self.authors is not None
            or self.retweeters is not None
            or self.min_count > 1
            or self.windowed
        )

    def params(self) -> dict[str, object]:
        """The filter parameters every filtered statement takes."""
        return {
            "authors": _list(self.authors),
            "retweeters": _list(self.retweeters),
            "min_count": self.min_count,
            "windowed": self.windowed,
            "since": "-infinity" if self.since is None else self.since.isoformat(),
            "until": "infinity" if self.until is None else self.until.isoformat(),
        }


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
    # With a time window: rows the other filters keep whose time is unknown (left out).
    untimed: int = 0

    def first_authors(self, shown: int) -> Matrix:
        """The same matrix showing only its first `shown` authors; the others count as left out."""
        if shown >= len(self.authors):
            return self
        return replace(
            self,
            authors=self.authors[:shown],
            cells={key: n for key, n in self.cells.items() if key[1] < shown},
            authors_left_out=self.authors_left_out + len(self.authors) - shown,
        )

    def count(self, row: int, column: int) -> int:
        return self.cells.get((row, column), 0)

    def row(self, row: int) -> list[int]:
        return [self.cells.get((row, column), 0) for column in range(len(self.authors))]

    @property
    def size(self) -> int:
        """How many cells the dense matrix has."""
        return len(self.authors) * len(self.retweeters)

    def records(self) -> Iterator[dict[str, int | str | None]]:
        """One dict per non-zero cell shown, by row then column (ids as ints)."""
        for (i, j), n in sorted(self.cells.items()):
            retweeter, author = self.retweeters[i], self.authors[j]
            yield {
                "retweeter_id": retweeter.id,
                "retweeter_username": retweeter.username,
                "author_id": author.id,
                "author_username": author.username,
                "count": n,
            }

    def to_pandas(self, ids: bool = False) -> Any:
        """The dense matrix as a pandas DataFrame: retweeters (index) x authors (columns),
        labelled as the table labels them. pandas is imported here, only when asked."""
        import pandas as pd

        return pd.DataFrame(
            [self.row(i) for i in range(len(self.retweeters))],
            index=pd.Index([p.label(ids) for p in self.retweeters], name="retweeter"),
            columns=pd.Index([p.label(ids) for p in self.authors], name="author"),
            dtype="int64",
        )


@dataclass(frozen=True)
class Node:
    """A node of the exported bipartite graph: kind is "author" or "retweeter"."""

    kind: str
    id: int
    username: str | None
    total: int


@dataclass(frozen=True)
class Edge:
    """A non-zero cell; first_at and last_at: its first and last retweet time, where known."""

    retweeter_id: int
    retweeter_username: str | None
    author_id: int
    author_username: str | None
    count: int
    first_at: datetime | None = None
    last_at: datetime | None = None


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
    idle = conn.info.transaction_status == TransactionStatus.IDLE
    for spec in specs:
        parsed = parse_user(spec)
        if isinstance(parsed, str):
            row = conn.execute(load("matrix_user_by_name"), {"username": parsed}).fetchone()
            if row is None:
                raise UsageError(f"unknown user @{parsed}: no such username in the users table")
            parsed = int(row[0])  # type: ignore[call-overload]
        if parsed not in ids:
            ids.append(parsed)
    if idle:
        conn.rollback()  # only reads were made: end the transaction they opened
    return tuple(ids)


def _has_times(conn: Connection) -> bool:
    row = conn.execute(load("matrix_has_times")).fetchone()
    return bool(row and row[0])


def has_retweets(conn: Connection) -> bool:
    row = conn.execute(load("matrix_has_retweets")).fetchone()
    return bool(row and row[0])


def load_matrix(conn: Connection, query: MatrixQuery) -> Matrix:
    """Catch the aggregate up, then read the matrix in one consistent snapshot."""
    catch_up(conn)
    with _snapshot(conn):
        return _read_all(conn, query)


@contextlib.contextmanager
def _snapshot(conn: Connection) -> Iterator[None]:
    """One REPEATABLE READ transaction, or a savepoint inside the caller's transaction
    (read there, with its isolation); the connection is left as it was found."""
    if conn.info.transaction_status != TransactionStatus.IDLE:
        with conn.transaction():
            yield
        return
    saved = conn.isolation_level
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    try:
        with conn.transaction():
            yield
    finally:
        conn.isolation_level = saved


def _read_all(conn: Connection, query: MatrixQuery) -> Matrix:
    if not has_retweets(conn):
        return Matrix(authors=[], retweeters=[], has_retweets=False)
    return _read(conn, query)


def _read(conn: Connection, query: MatrixQuery) -> Matrix:
    """Authors first (top by total within the filters), then the retweeters ranked by their
    retweets of those authors: the rows shown are the ones that retweet the columns shown."""
    untimed = 0
    if query.filtered:
        conn.execute(load("matrix_filter_create"))
        conn.execute("TRUNCATE matrix_filtered")  # an earlier read's, in the caller's transaction
        if query.windowed:
            conn.execute(load("matrix_window_fill"), query.params())
            counted = conn.execute(load("matrix_window_untimed"), query.params()).fetchone()
            untimed = int(counted[0]) if counted else 0  # type: ignore[call-overload]
        else:
            conn.execute(load("matrix_filter_fill"), query.params())
        authors, all_authors = _ranked_filtered(
            conn, "matrix_filtered_top_authors", {"limit": query.top_authors}
        )
        chosen = [i for i, _ in authors] if len(authors) < all_authors else None
        retweeters, all_retweeters = _ranked_filtered(
            conn,
            "matrix_filtered_top_retweeters",
            {"limit": query.top_retweeters, "authors": chosen},
        )
        cells_sql = "matrix_filtered_cells"
    else:
        authors = _ranked(conn, "matrix_top_authors", query.top_authors)
        sizes = conn.execute(load("matrix_sizes")).fetchone()
        assert sizes is not None
        all_authors, all_retweeters = int(sizes[0]), int(sizes[1])  # type: ignore[call-overload]
        if len(authors) < all_authors:
            retweeters = _ranked_within(
                conn, [i for i, _ in authors], query.top_retweeters, all_retweeters
            )
        else:
            retweeters = _top_retweeters(conn, query.top_retweeters)
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
        untimed=untimed,
    )


def _ranked(conn: Connection, name: str, limit: int | None) -> list[tuple[int, int]]:
    return [
        (int(i), int(total))  # type: ignore[call-overload]
        for i, total in conn.execute(load(name), {"limit": limit})
    ]


def _top_retweeters(conn: Connection, limit: int | None) -> list[tuple[int, int]]:
    """From the ranks when they hold that many, else sorted from all the totals."""
    if limit is not None and limit <= RANKED_RETWEETERS:
        return _ranked(conn, "matrix_top_retweeters", limit)
    return _ranked(conn, "matrix_all_retweeters", limit)


def _ranked_within(
    conn: Connection, authors: list[int], limit: int | None, everyone: int
) -> list[tuple[int, int]]:
    """The `limit` retweeters with most retweets of `authors`, as (id, whole total);
    `everyone`: how many retweeters there are.

    Order: retweets of those authors descending, then whole total descending, then id.
    Walks the rank index (whole totals descending) a batch at a time and probes the
    cells of each batch by primary key; a retweeter's retweets of some authors never
    exceed its whole total, so once the next whole total is at most the `limit`-th
    best count, no later retweeter can enter (a tie on both loses on id, which the
    index order makes larger). On skewed data (real retweets) it settles within a
    batch or two. If it has not settled after RANK_SCAN_LIMIT retweeters (uniform
    data: nobody favours the top authors), the cells of those authors are scanned
    instead (so too when the ranks end before every retweeter was walked): the same
    exact order, at about a quarter of a second per 5M cells.
    """
    if limit is None:
        return _ranked_within_by_scan(conn, authors, None)
    best: list[tuple[int, int, int]] = []  # (-within, -total, id): sorts best first
    scanned = 0
    with conn.cursor(name="retweetctl_rank") as ranked:
        ranked.execute(load("matrix_top_retweeters"), {"limit": None})
        while batch := ranked.fetchmany(RANK_BATCH):
            ids = [int(i) for i, _ in batch]  # type: ignore[call-overload]
            within = {
                int(i): int(n)  # type: ignore[call-overload]
                for i, n in conn.execute(
                    load("matrix_within_sums"), {"retweeters": ids, "authors": authors}
                )
            }
            for retweeter_id, total in batch:
                i, t = int(retweeter_id), int(total)  # type: ignore[call-overload]
                n = within.get(i, 0)
                if n > 0:
                    best.append((-n, -t, i))
            best.sort()
            del best[limit:]
            scanned += len(batch)
            lowest_left = int(batch[-1][1])  # type: ignore[call-overload]
            if len(best) == limit and lowest_left <= -best[-1][0]:
                return [(i, -total) for _, total, i in best]  # settled: exact
            if scanned >= RANK_SCAN_LIMIT:
                break
    if scanned < everyone:  # retweeters not walked may have more retweets of these authors
        return _ranked_within_by_scan(conn, authors, limit)
    return [(i, -total) for _, total, i in best]


def _ranked_within_by_scan(
    conn: Connection, authors: list[int], limit: int | None
) -> list[tuple[int, int]]:
    return [
        (int(i), int(total))  # type: ignore[call-overload]
        for i, total, _ in conn.execute(
            load("matrix_within_top_retweeters"), {"authors": authors, "limit": limit}
        )
    ]


def _ranked_filtered(
    conn: Connection, name: str, params: dict[str, object]
) -> tuple[list[tuple[int, int]], int]:
    ranked: list[tuple[int, int]] = []
    everyone = 0
    for i, total, count in conn.execute(load(name), params):
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


class Export:
    """The graph the filters keep, for the long formats: nodes, then edges, each streamed
    through a server-side cursor in constant memory, in one snapshot (see `open_export`)."""

    def __init__(self, conn: Connection, query: MatrixQuery, has_retweets: bool) -> None:
        self._conn = conn
        self._params = query.params()
        self.has_retweets = has_retweets
        self.edges_written = 0
        # Times live only in `retweets`: when any is known (or a window is asked), the
        # export is a GROUP BY over the rows instead of a read of the aggregate.
        self.timed = query.windowed or (has_retweets and _has_times(conn))
        self._prefix = "matrix_timed_" if self.timed else "matrix_"
        self._graph = False  # the timed cells grouped into matrix_timed_cells by nodes()
        self.untimed = 0
        if query.windowed:
            row = conn.execute(load("matrix_window_untimed"), self._params).fetchone()
            self.untimed = int(row[0]) if row else 0  # type: ignore[call-overload]

    def nodes(self) -> Iterator[Node]:
        """Authors by id, then retweeters by id: those with at least one kept cell."""
        if self.timed and not self._graph:
            # nodes, then edges: group the timed cells once for both (matrix_timed_cells_*)
            self._conn.execute(load("matrix_timed_cells_create"))
            self._conn.execute("TRUNCATE matrix_timed_cells")
            self._conn.execute(load("matrix_timed_cells_fill"), self._params)
            self._graph = True
        for kind in ("author", "retweeter"):
            for node_id, username, total in self._stream(
                f"{self._prefix}graph_nodes", side=kind, cursor=f"graph_{kind}s"
            ):
                yield Node(
                    kind,
                    int(node_id),  # type: ignore[call-overload]
                    None if username is None else str(username),
                    int(total),  # type: ignore[call-overload]
                )

    def edges(self) -> Iterator[Edge]:
        """Every kept non-zero cell, ordered by (retweeter, author)."""
        # A timed graph reads the cells its nodes grouped; edges alone, one GROUP BY streamed.
        name = "matrix_timed_graph_edges" if self._graph else f"{self._prefix}edges"
        for row in self._stream(name):
            self.edges_written += 1
            retweeter_id, retweeter_name, author_id, author_name, n = row[:5]
            first_at, last_at = (
                t if isinstance(t, datetime) else None for t in row[5:7] or (None, None)
            )
            yield Edge(
                int(retweeter_id),  # type: ignore[call-overload]
                None if retweeter_name is None else str(retweeter_name),
                int(author_id),  # type: ignore[call-overload]
                None if author_name is None else str(author_name),
                int(n),  # type: ignore[call-overload]
                first_at,
                last_at,
            )

    def _stream(
        self, name: str, *, cursor: str = "edges", side: str | None = None
    ) -> Iterator[tuple[object, ...]]:
        with self._conn.cursor(name=f"retweetctl_{cursor}") as rows:
            rows.itersize = EDGES_FETCH_ROWS
            rows.execute(load(name), {**self._params, "side": side})
            yield from rows


@contextlib.contextmanager
def open_export(conn: Connection, query: MatrixQuery) -> Iterator[Export]:
    """Catch the aggregate up, then an Export of one snapshot; consume it inside the block.

    The top-N limits of `query` do not apply: the long formats are the complete export.
    """
    catch_up(conn)
    with _snapshot(conn):
        yield Export(conn, query, has_retweets(conn))


def edges(conn: Connection, query: MatrixQuery) -> Iterator[Edge]:
    """Every non-zero cell the filters keep, ordered by (retweeter, author), streamed.

    The caller must consume the iterator before using `conn` for anything else.
    """
    with open_export(conn, query) as export:
        yield from export.edges()
