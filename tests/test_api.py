"""The public Python API: README's example runs; every function leaves the connection as found."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg.pq import TransactionStatus

import retweetctl.api as api
from retweetctl.database import Connection
from tests.conftest import user_env
from tests.matrix_data import CELLS, fill

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_example() -> str:
    section = README.read_text(encoding="utf-8").split("## Use from Python\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_the_readme_example_runs(db_url: str, tmp_path: Path) -> None:
    env = user_env(RETWEETCTL_DATABASE_URL=db_url, RETWEETCTL_HOME=str(tmp_path / "home"))
    completed = subprocess.run(
        [sys.executable, "-c", readme_example()],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0] == "4 of 4 rows added"
    assert "author" in lines[1] and "100" in lines[1] and "200" in lines[1]
    assert lines[-1] == "11 -> 100 2"
    # And it wrote where the CLI reads.
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM retweets").fetchone() == (4,)


def test_all_names_what_the_module_offers() -> None:
    assert sorted(api.__all__) == api.__all__
    for name in api.__all__:
        assert hasattr(api, name), name


def test_to_pandas_and_records(db_url: str, conn: Connection) -> None:
    fill(conn)
    matrix = api.read_matrix(conn, authors=["@alice", 200])
    frame = matrix.to_pandas()
    assert list(frame.columns) == ["@bob", "@alice"]
    assert frame.loc["@xavier", "@bob"] == 16 and frame.loc["@yolanda", "@alice"] == 12
    assert frame.values.sum() == sum(n for (_, a), n in CELLS.items() if a in (100, 200))
    records = list(matrix.records())
    assert {(r["retweeter_id"], r["author_id"]): r["count"] for r in records} == {
        k: n for k, n in CELLS.items() if k[1] in (100, 200)
    }


CALLS: dict[str, Callable[[Connection], object]] = {
    "merge": lambda c: api.merge(c, [(777_001, 11, 100)]),
    "read_matrix": lambda c: api.read_matrix(c, authors=["@alice"]),
    "iter_edges": lambda c: list(api.iter_edges(c, retweeters=["@xavier"])),
    "update_matrix": lambda c: api.update_matrix(c),
}


@pytest.mark.parametrize("name", CALLS)
def test_an_idle_connection_stays_idle(db_url: str, conn: Connection, name: str) -> None:
    fill(conn)
    CALLS[name](conn)
    assert conn.info.transaction_status == TransactionStatus.IDLE
    assert conn.autocommit is False


@pytest.mark.parametrize("name", CALLS)
def test_the_callers_transaction_is_neither_committed_nor_rolled_back(
    db_url: str, conn: Connection, name: str
) -> None:
    fill(conn)
    conn.execute("INSERT INTO users (id, username) VALUES (424242, 'callers_own')")
    CALLS[name](conn)
    assert conn.info.transaction_status == TransactionStatus.INTRANS
    # The caller's uncommitted row is still there...
    assert conn.execute("SELECT username FROM users WHERE id = 424242").fetchone() == (
        "callers_own",
    )
    conn.rollback()
    # ...and was never committed behind the caller's back.
    assert conn.execute("SELECT count(*) FROM users WHERE id = 424242").fetchone() == (0,)
    conn.rollback()


def test_load_file_refuses_a_transaction_and_leaves_an_idle_connection_idle(
    db_url: str, conn: Connection, tmp_path: Path
) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("tweet_id,retweeter_id,author_id\n1,2,3\n1,4,3\n")
    conn.execute("SELECT 1")
    with pytest.raises(api.TransactionInProgress, match="idle connection"):
        api.load_file(conn, data)
    assert conn.info.transaction_status == TransactionStatus.INTRANS
    conn.rollback()
    result = api.load_file(conn, data)
    assert (result.seen, result.added) == (2, 2)
    assert conn.info.transaction_status == TransactionStatus.IDLE
    assert api.read_matrix(conn).authors[0].total == 2


def test_filtered_reads_twice_in_the_callers_transaction(conn: Connection) -> None:
    """The filtered matrix's temp table lives until the caller's commit: a second read in
    the same transaction reuses it, emptied, instead of failing on CREATE."""
    fill(conn)
    conn.execute("SELECT 1")  # the caller's transaction is open
    first = api.read_matrix(conn, authors=["@alice"])
    second = api.read_matrix(conn, authors=["@alice"], min_count=1)
    assert list(first.records()) == list(second.records()) != []
    assert conn.info.transaction_status == TransactionStatus.INTRANS
    conn.rollback()
