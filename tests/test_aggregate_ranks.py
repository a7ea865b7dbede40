"""The retweeter ranks (migration 0006) hold the first RANKED_RETWEETERS by total, through
catch-ups small and chunked, with ties and deletions; the matrix reads past them."""

from __future__ import annotations

import random

import psycopg
import pytest

from retweetctl.aggregate import RANKED_RETWEETERS, catch_up, check
from retweetctl.database import Connection
from retweetctl.ingest import Row, merge_rows
from retweetctl.matrix import MatrixQuery, load_matrix
from retweetctl.migrations import available_migrations, migrate
from tests.test_aggregate import assert_consistent

# Few enough that the tests' retweeters overflow the ranks many times over.
SMALL_RANKS = 3


def ranks(conn: Connection) -> list[tuple[int, int]]:
    rows = conn.execute(
        "SELECT retweeter_id, total FROM retweet_retweeter_ranks ORDER BY total DESC, retweeter_id"
    ).fetchall()
    conn.commit()
    return [(int(i), int(t)) for i, t in rows]  # type: ignore[call-overload]


def fresh_ranks(conn: Connection, limit: int) -> list[tuple[int, int]]:
    rows = conn.execute(
        "SELECT retweeter_id, count(*) FROM retweets GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s",
        (limit,),
    ).fetchall()
    conn.commit()
    return [(int(i), int(t)) for i, t in rows]  # type: ignore[call-overload]


def random_rows(rng: random.Random, first_tweet: int, count: int) -> list[Row]:
    # 40 retweeters with few distinct totals: ties at the edge of the ranks are common.
    return [(first_tweet + i, rng.randint(1, 40), rng.randint(1, 5)) for i in range(count)]


@pytest.fixture
def small_ranks(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("retweetctl.aggregate.RANKED_RETWEETERS", SMALL_RANKS)
    monkeypatch.setattr("retweetctl.matrix.RANKED_RETWEETERS", SMALL_RANKS)
    return SMALL_RANKS


def test_ranks_follow_small_catch_ups_with_ties(conn: Connection, small_ranks: int) -> None:
    rng = random.Random(11)
    first = 1
    for _ in range(25):
        count = rng.randint(1, 6)
        merge_rows(conn, random_rows(rng, first, count))
        conn.commit()
        first += count
        catch_up(conn)
        assert ranks(conn) == fresh_ranks(conn, small_ranks)
    assert_consistent(conn)


def test_ranks_follow_a_catch_up_in_chunks(
    conn: Connection, small_ranks: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("retweetctl.aggregate.CATCH_UP_CHUNK_ROWS", 10)
    monkeypatch.setattr("retweetctl.aggregate.CATCH_UP_CHUNK_PAGES", 1)
    rng = random.Random(12)
    merge_rows(conn, random_rows(rng, 1, 50))
    conn.commit()
    catch_up(conn)  # in one statement: the ranks fill from empty
    assert ranks(conn) == fresh_ranks(conn, small_ranks)
    merge_rows(conn, random_rows(rng, 1_000, 2_000))
    conn.commit()
    calls: list[int] = []
    result = catch_up(conn, lambda done, total: calls.append(done))
    assert result.deltas == 2_000
    assert len(calls) > 2  # 0, then one per chunk of the 200 cells' changes (136 a page)
    assert ranks(conn) == fresh_ranks(conn, small_ranks)
    assert_consistent(conn)


def test_a_deletion_ranks_the_totals_again(conn: Connection, small_ranks: int) -> None:
    rng = random.Random(13)
    merge_rows(conn, random_rows(rng, 1, 300))
    conn.commit()
    catch_up(conn)
    leader = ranks(conn)[0][0]
    # The leader falls to one retweet: someone below the ranks takes its place.
    conn.execute(
        "DELETE FROM retweets WHERE retweeter_id = %s AND tweet_id <>"
        " (SELECT min(tweet_id) FROM retweets WHERE retweeter_id = %s)",
        (leader, leader),
    )
    conn.commit()
    catch_up(conn)
    assert leader not in {i for i, _ in ranks(conn)}
    assert ranks(conn) == fresh_ranks(conn, small_ranks)
    assert_consistent(conn)


def test_check_reports_a_wrong_rank(conn: Connection) -> None:
    merge_rows(conn, [(1, 7, 100), (2, 7, 100), (3, 8, 100)])
    conn.commit()
    assert check(conn).ok
    conn.execute("UPDATE retweet_retweeter_ranks SET total = 5 WHERE retweeter_id = 8")
    conn.commit()
    result = check(conn)
    assert result.differences == 1
    assert [d.describe() for d in result.shown] == [
        "ranked retweeter 8 total: aggregate 5, retweets 1"
    ]


def test_the_matrix_reads_past_the_ranks(conn: Connection, small_ranks: int) -> None:
    rng = random.Random(14)
    merge_rows(conn, random_rows(rng, 1, 400))
    conn.commit()
    catch_up(conn)
    expected = fresh_ranks(conn, 40)
    for limit in (2, small_ranks, small_ranks + 5, None):
        # Every author shown: the retweeters are the first by whole total.
        matrix = load_matrix(conn, MatrixQuery(top_authors=None, top_retweeters=limit))
        shown = [(p.id, p.total) for p in matrix.retweeters]
        assert shown == expected[:limit], limit


def test_migration_ranks_the_retweeters_already_stored(empty_db_url: str) -> None:
    migrations = available_migrations()
    ranks_migration = next(m for m in migrations if m.version == 6)
    # The migration fills as many as the catch-up keeps.
    assert f"LIMIT {RANKED_RETWEETERS};" in ranks_migration.path.read_text()
    with psycopg.connect(empty_db_url) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in migrations[:1]:  # rows stored before the aggregate: 0002 counts them
            conn.execute(migration.path.read_text())
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
        conn.execute(
            "INSERT INTO retweets (tweet_id, retweeter_id, author_id)"
            " SELECT i, 1 + i % 12000, 1 + i % 7 FROM generate_series(1, 30000) AS i"
        )
        conn.commit()
        migrate(conn)
        assert ranks(conn) == fresh_ranks(conn, RANKED_RETWEETERS)
        index = conn.execute(
            "SELECT to_regclass('retweet_retweeter_totals_rank_idx') IS NULL"
        ).fetchone()
        conn.commit()
        assert index == (True,)  # `total` indexed nowhere: updates of totals stay HOT
        assert_consistent(conn)


def test_truncate_empties_the_ranks(conn: Connection) -> None:
    merge_rows(conn, [(1, 7, 100)])
    conn.commit()
    catch_up(conn)
    conn.execute("TRUNCATE retweets")
    conn.commit()
    assert ranks(conn) == []
    assert_consistent(conn)
