# ruff: noqa: F811 - pytest fixtures imported from tests.fake_x_api are redefined as arguments
"""fetch keeps no transaction open across HTTP calls; a tweet's pages are spooled, then written at once."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from retweetctl.database import Connection
from retweetctl.ingest import MergeResult, StagingBatch, upsert_spooled_users
from retweetctl.sandbox import Fault, SandboxServer, SandboxTweet, SandboxUser
from retweetctl.spool import PageSpool
from tests.conftest import CliResult
from tests.fake_x_api import ALICE, TOKEN, fake_x, fetch_cli  # noqa: F401 - fixtures

Fetch = Callable[..., CliResult]
T1 = 2001


def test_fetch_survives_idle_in_transaction_timeout_beside_a_slow_page(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    """The server kills a session idle in a transaction for 2 s; each page takes 3 s."""
    name = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE \"{name}\" SET idle_in_transaction_session_timeout = '2s'")
    users = [SandboxUser(300 + i, f"u{i}", f"U {i}") for i in range(150)]
    fake_x.state.add(SandboxTweet(T1, ALICE, users))
    fake_x.state.fault(Fault(r"retweeted_by", status=None, delay=3.0, times=2))
    result = fetch_cli(["fetch", "--limit", "0", str(T1)])
    assert result.exit_code == 0, result.stderr
    assert f"{T1} by @alice: 150 of 150 records added" in result.stdout
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT count(*) FROM retweets WHERE tweet_id = %s", (T1,))
        assert stored.fetchone() == (150,)
        named = conn.execute("SELECT count(*) FROM users").fetchone()
        assert named == (151,)
        run = conn.execute("SELECT status, seen, added FROM fetch_runs").fetchall()
        assert run == [("ok", 150, 150)]


def test_spool_spills_in_chunks_and_gives_everything_back_in_order() -> None:
    with PageSpool(spill_rows=3) as spool:
        for page in range(4):
            ids = [page * 2 + 1, page * 2 + 2]
            spool.add([(9, i, 5) for i in ids], [(i, f"n{i}", None) for i in ids])
        assert spool.spilled
        assert spool.count == 8
        assert [r[1] for r in spool.rows()] == list(range(1, 9))
        assert [u[0] for u in spool.users()] == list(range(1, 9))
        # Iterable again: the write may be retried from the same spool.
        assert len(list(spool.rows())) == 8
    assert not spool.spilled


def test_spilled_users_are_upserted_once_each_last_name_wins(conn: Connection) -> None:
    conn.execute("INSERT INTO users (id, username) VALUES (2, 'old')")
    with PageSpool(spill_rows=2) as spool:
        spool.add([(9, 1, 5), (9, 2, 5)], [(1, "a", None), (2, "b", None)])
        spool.add([(9, 3, 5), (9, 2, 5)], [(3, "c", None), (2, "b2", "Bee")])
        assert spool.spilled
        with conn.transaction():
            batch = StagingBatch(conn)
            batch.copy(spool.rows())
            upsert_spooled_users(conn, [(5, "author", None)], spool.users())
            assert batch.merge() == MergeResult(4, 3)
    found = conn.execute("SELECT id, username, name FROM users ORDER BY id").fetchall()
    assert found == [(1, "a", None), (2, "b2", "Bee"), (3, "c", None), (5, "author", None)]


def test_fetch_beside_a_load_in_flight_stores_exactly_its_rows(
    fetch_cli: Fetch, fake_x: SandboxServer, db_url: str
) -> None:
    """Another session's big staged batch is neither merged nor removed by a fetch."""
    users = [SandboxUser(500 + i, f"b{i}", "B") for i in range(20)]
    fake_x.state.add(SandboxTweet(T1, ALICE, users))
    with psycopg.connect(db_url) as loader:
        batch = StagingBatch(loader, bulk=True)  # as load stages a file
        batch.copy((9_000_000 + i % 97, i + 1, 5) for i in range(100_000))
        result = fetch_cli(["fetch", str(T1)])
        assert result.exit_code == 0, result.stderr
        with psycopg.connect(db_url) as conn:
            stored = conn.execute("SELECT tweet_id, count(*) FROM retweets GROUP BY 1").fetchall()
            assert stored == [(T1, 20)]
        staged = loader.execute("SELECT count(*) FROM retweet_staging").fetchone()
        assert staged == (100_000,)
        assert batch.merge() == MergeResult(100_000, 100_000)
        loader.commit()
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM retweet_staging").fetchone() == (0,)
