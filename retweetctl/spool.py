"""A tweet's pages, held between the HTTP calls and the one short transaction that writes them.

fetch keeps no transaction open while it waits on the X API (a server with
idle_in_transaction_session_timeout would kill it, and it would hold back
vacuum). Pages are kept in memory up to SPILL_ROWS rows, then written in
chunks to an anonymous temporary file, so memory stays bounded however many
retweeters a tweet has.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO

from retweetctl.rows import Row, User

__all__ = ["SPILL_ROWS", "PageSpool"]

# Rows (and their users) held in memory before a chunk goes to disk: the issue's
# "more than ~100k retweeters"; about 30 MB of Python tuples at that size.
SPILL_ROWS = 100_000


class PageSpool:
    """Rows and users of one tweet in arrival order; iterate them back at write time."""

    def __init__(self, spill_rows: int = SPILL_ROWS) -> None:
        self.spill_rows = spill_rows
        self._rows: list[Row] = []
        self._users: list[User] = []
        self._file: IO[bytes] | None = None
        self._chunks = 0
        self.count = 0

    @property
    def spilled(self) -> bool:
        return self._file is not None

    def add(self, rows: Iterable[Row], users: Iterable[User]) -> None:
        before = len(self._rows)
        self._rows.extend(rows)
        self._users.extend(users)
        self.count += len(self._rows) - before
        if len(self._rows) >= self.spill_rows:
            self._spill()

    def _spill(self) -> None:
        if self._file is None:
            # Closed by close(); an anonymous file, gone with the process whatever happens.
            self._file = tempfile.TemporaryFile(prefix="retweetctl-fetch-")  # noqa: SIM115
        pickle.dump((self._rows, self._users), self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._chunks += 1
        self._rows, self._users = [], []

    def _all_chunks(self) -> Iterator[tuple[list[Row], list[User]]]:
        if self._file is not None:
            self._file.seek(0)
            for _ in range(self._chunks):
                rows, users = pickle.load(self._file)  # noqa: S301 - our own file, this process
                yield rows, users
        yield self._rows, self._users

    def rows(self) -> Iterator[Row]:
        for rows, _ in self._all_chunks():
            yield from rows

    def users(self) -> Iterator[User]:
        for _, users in self._all_chunks():
            yield from users

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._rows, self._users = [], []

    def __enter__(self) -> PageSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
