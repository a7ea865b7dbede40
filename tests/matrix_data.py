"""Known data for the matrix tests: usernames known and unknown, ties among totals."""

from __future__ import annotations

from retweetctl.database import Connection
from retweetctl.ingest import Row, merge_rows, upsert_users

# (retweeter_id, author_id) -> how many of the author's tweets the retweeter retweeted.
CELLS: dict[tuple[int, int], int] = {
    (11, 100): 5,
    (11, 200): 16,
    (12, 100): 12,
    (12, 200): 9,
    (13, 300): 1,
    (14, 200): 1,
    (14, 300): 1,
    (15, 100): 1,
    (16, 300): 16,
}
# 13, 15 and 16 have no username; 300 neither. 400 is known but never retweeted.
USERS = [
    (11, "xavier", "Xavier"),
    (12, "yolanda", "Yolanda"),
    (14, "zed", None),
    (100, "alice", "Alice"),
    (200, "bob", "Bob"),
    (400, "nobody", None),
    (13, None, None),
]


def rows_for(cells: dict[tuple[int, int], int]) -> list[Row]:
    """n distinct tweets of the author per cell; an author's tweets are author_id * 1000 + k."""
    rows = []
    for (retweeter, author), n in cells.items():
        rows.extend((author * 1000 + k, retweeter, author) for k in range(n))
    return rows


def fill(conn: Connection) -> None:
    merge_rows(conn, rows_for(CELLS))
    upsert_users(conn, USERS)
    conn.commit()
