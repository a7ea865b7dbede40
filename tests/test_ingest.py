"""The merge path every loader uses: exact counts, reruns, repeats, atomicity."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from retweetctl import ingest
from retweetctl.database import Connection
from retweetctl.ingest import MergeResult, Retweet, StagingBatch, merge_rows, upsert_users
from retweetctl.queries import load


def table(conn: Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT tweet_id, retweeter_id, author_id FROM retweets ORDER BY 1, 2"
    ).fetchall()


def staged(conn: Connection) -> int:
    row = conn.execute("SELECT count(*) FROM retweet_staging").fetchone()
    assert row is not None
    return int(row[0])  # type: ignore[call-overload]


def test_counts_what_is_new_and_rerun_adds_nothing(conn: Connection) -> None:
    assert merge_rows(conn, [(10, 1, 100), (10, 2, 100), (11, 1, 100)]) == MergeResult(
        seen=3, added=3
    )
    assert merge_rows(
        conn, [(10, 1, 100), (10, 3, 100), (11, 1, 100), (12, 9, 101)]
    ) == MergeResult(4, 2)
    assert merge_rows(conn, [(10, 1, 100), (10, 3, 100)]) == MergeResult(2, 0)
    assert table(conn) == [(10, 1, 100), (10, 2, 100), (10, 3, 100), (11, 1, 100), (12, 9, 101)]
    assert staged(conn) == 0


def test_repeats_inside_one_batch_count_once(conn: Connection) -> None:
    assert merge_rows(conn, [(5, 1, 50), (5, 1, 50), (5, 2, 50), (5, 1, 50)]) == MergeResult(
        seen=4, added=2
    )
    assert table(conn) == [(5, 1, 50), (5, 2, 50)]


def test_empty_batch(conn: Connection) -> None:
    assert merge_rows(conn, []) == MergeResult(0, 0)


def test_failure_midway_leaves_nothing(conn: Connection) -> None:
    merge_rows(conn, [(1, 1, 1)])

    def rows_then_boom():  # type: ignore[no-untyped-def]
        yield (2, 2, 2)
        yield (3, 3, 3)
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError):
        merge_rows(conn, rows_then_boom())
    assert table(conn) == [(1, 1, 1)]
    assert staged(conn) == 0


def test_batches_in_flight_never_see_each_other(db_url: str) -> None:
    with psycopg.connect(db_url) as a, psycopg.connect(db_url) as b:
        with b.transaction():
            batch_b = StagingBatch(b)
            batch_b.copy([(1, 2, 1), (2, 2, 2)])
            with a.transaction():
                batch_a = StagingBatch(a)
                batch_a.copy([(1, 1, 1), (1, 2, 1)])
                result_a = batch_a.merge()  # b's staged rows are invisible to a
            result_b = batch_b.merge()  # a has committed (1, 2): b skips it
        assert (result_a, result_b) == (MergeResult(2, 2), MergeResult(2, 1))
        assert staged(a) == 0


def test_upsert_users_keeps_latest_name(conn: Connection) -> None:
    upsert_users(conn, [(1, "alice", "Alice"), (2, "bob", None)])
    upsert_users(conn, [(1, "alice_new", "Alice"), (2, "bob", None)])
    conn.commit()
    assert conn.execute("SELECT id, username, name FROM users ORDER BY id").fetchall() == [
        (1, "alice_new", "Alice"),
        (2, "bob", None),
    ]


def test_a_row_with_a_nonpositive_id_is_refused_by_the_table(conn: Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        merge_rows(conn, [(1, 0, 1)])
    assert table(conn) == []


def test_largest_bigint_ids_round_trip(conn: Connection) -> None:
    biggest = 2**63 - 1
    assert merge_rows(conn, [(biggest, biggest, biggest), (1, biggest, 2)]) == MergeResult(2, 2)
    assert table(conn) == [(1, biggest, 2), (biggest, biggest, biggest)]


@pytest.mark.parametrize(
    "bad_row",
    [
        (1, 2**63, 1),  # beyond bigint
        (1, -(2**63) - 1, 1),
        (1, "7", 1),  # ids must already be ints: parsing is the loader's job
        (1, 2.5, 1),
        (1, 2),  # a row of the wrong length
    ],
)
def test_a_row_that_is_not_three_bigints_is_refused_and_nothing_merged(
    conn: Connection, bad_row: tuple[object, ...]
) -> None:
    merge_rows(conn, [(1, 1, 1)])
    with pytest.raises(psycopg.DataError, match="row 2 of the batch"):
        merge_rows(conn, [(9, 9, 9), bad_row])  # type: ignore[list-item]
    conn.rollback()
    assert table(conn) == [(1, 1, 1)]
    assert staged(conn) == 0


def test_a_big_batch_is_pruned_of_stored_rows_with_the_same_result(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every copy() takes the prune path (a hash join that drops already-stored rows).
    monkeypatch.setattr(ingest, "PRUNE_MIN_ROWS", 1)
    monkeypatch.setattr(ingest, "PRUNE_MIN_FRACTION", 0.0)
    assert merge_rows(conn, [(10, 1, 100), (10, 2, 100), (11, 1, 100)]) == MergeResult(3, 3)
    rows = [(10, 1, 100), (10, 3, 100), (10, 3, 100), (11, 1, 100), (12, 9, 101)]
    with conn.transaction():
        batch = StagingBatch(conn)
        assert batch.copy(rows[:2]) == 2
        assert batch.copy(rows[2:]) == 3
        # Only the rows not stored yet are left in staging, repeats included.
        assert staged(conn) == 3
        assert batch.merge() == MergeResult(seen=5, added=2)
        # The planner settings the prune turned off are back for the rest of the transaction.
        settings = conn.execute(
            "SELECT current_setting('enable_nestloop'), current_setting('enable_mergejoin')"
        ).fetchone()
        assert settings == ("on", "on")
    assert table(conn) == [(10, 1, 100), (10, 2, 100), (10, 3, 100), (11, 1, 100), (12, 9, 101)]
    assert staged(conn) == 0


def test_only_big_batches_next_to_the_table_are_pruned(conn: Connection) -> None:
    merge_rows(conn, [(1, 1, 1), (1, 2, 1)])
    conn.execute("ANALYZE retweets")
    conn.commit()
    with conn.transaction():
        batch = StagingBatch(conn)
        batch.copy([(1, 1, 1), (1, 3, 1)])  # below PRUNE_MIN_ROWS: staged as given
        assert staged(conn) == 2
        batch.merge()
    assert ingest.PRUNE_MIN_ROWS > 1000 and 0 < ingest.PRUNE_MIN_FRACTION <= 1


def times(conn: Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT tweet_id, retweeter_id, retweet_id, retweeted_at FROM retweets ORDER BY 1, 2"
    ).fetchall()


T1 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize("prune", [False, True], ids=["small-batch", "pruned-batch"])
def test_a_later_batch_fills_the_time_of_rows_stored_without_one(
    conn: Connection, monkeypatch: pytest.MonkeyPatch, prune: bool
) -> None:
    if prune:  # the big-batch path drops stored rows from staging first: not these
        monkeypatch.setattr(ingest, "PRUNE_MIN_ROWS", 1)
        monkeypatch.setattr(ingest, "PRUNE_MIN_FRACTION", 0.0)
    merge_rows(conn, [(10, 1, 100), (10, 2, 100), Retweet(10, 3, 100, 903, T1)])
    result = merge_rows(
        conn,
        [
            Retweet(10, 1, 100, 901, T2),  # stored without a time: filled
            Retweet(10, 3, 100, 999, T2),  # stored with a time: kept as it was
            Retweet(10, 4, 100, 904, T2),  # new
        ],
    )
    # Filling a time adds no row: the counts are the insert's alone.
    assert result == MergeResult(seen=3, added=1)
    assert times(conn) == [
        (10, 1, 901, T2),
        (10, 2, None, None),  # not in the batch: untouched
        (10, 3, 903, T1),
        (10, 4, 904, T2),
    ]
    assert staged(conn) == 0


def test_a_repeat_in_the_same_batch_fills_the_time(conn: Connection) -> None:
    assert merge_rows(conn, [(7, 1, 70), Retweet(7, 1, 70, 701, T1)]) == MergeResult(2, 1)
    assert times(conn) == [(7, 1, 701, T1)]


def test_filling_times_leaves_the_matrix_aggregate_unchanged(conn: Connection) -> None:
    merge_rows(conn, [(10, 1, 100), (11, 1, 100)])
    conn.execute("DELETE FROM retweet_cell_deltas")
    conn.commit()
    merge_rows(conn, [Retweet(10, 1, 100, 901, T1), Retweet(11, 1, 100, 902, T2)])
    assert [r[3] for r in times(conn)] == [T1, T2]
    # The aggregate's update trigger nets old against new rows: no -1/+1 pair per row.
    assert conn.execute("SELECT count(*) FROM retweet_cell_deltas").fetchone() == (0,)


def test_an_update_that_moves_a_retweet_still_counts_in_the_aggregate(conn: Connection) -> None:
    merge_rows(conn, [(10, 1, 100)])
    conn.execute("DELETE FROM retweet_cell_deltas")
    conn.execute("UPDATE retweets SET author_id = 200 WHERE tweet_id = 10")
    deltas = conn.execute(
        "SELECT retweeter_id, author_id, n FROM retweet_cell_deltas ORDER BY author_id"
    ).fetchall()
    assert deltas == [(1, 100, -1), (1, 200, 1)]


def test_a_big_batch_whose_stored_rows_have_their_times_skips_the_backfill(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "PRUNE_MIN_ROWS", 1)
    monkeypatch.setattr(ingest, "PRUNE_MIN_FRACTION", 0.0)
    rows = [Retweet(10, 1, 100, 901, T1), Retweet(10, 2, 100, 902, T2)]
    merge_rows(conn, [(10, 1, 100), *rows[1:]])  # (10, 1) stored without a time
    with conn.transaction():
        batch = StagingBatch(conn)
        batch.copy(rows)
        assert batch.timed == 1  # the prune dropped (10, 2): stored with its time
        assert batch.merge() == MergeResult(seen=2, added=0)
    assert [r[3] for r in times(conn)] == [T1, T2]
    with conn.transaction():
        again = StagingBatch(conn)
        again.copy(rows)
        assert (again.timed, staged(conn)) == (0, 0)  # nothing left to fill: no UPDATE
        again.merge()


def test_small_merge_beside_a_big_staged_batch_reads_only_its_own_rows(db_url: str) -> None:
    """Another session's uncommitted staged rows are neither merged nor read by a small merge."""
    big_rows = [(1000 + i % 50, i + 1, 7) for i in range(60_000)]
    with psycopg.connect(db_url) as other, psycopg.connect(db_url) as conn:
        big = StagingBatch(other, bulk=True)  # as load stages a file
        big.copy(big_rows)  # in flight: staged, not committed
        with conn.transaction():
            small = StagingBatch(conn)
            small.copy([(5, 1, 50), (5, 2, 50)])
            # The merge's own statement, planned as merge() runs it (never prepared).
            explain = sql.SQL("EXPLAIN (COSTS OFF) ") + load("merge_staged")
            for _ in range(7):  # past psycopg's prepare threshold
                rows = conn.execute(explain, {"batch_id": small.batch_id}, prepare=False)
                plan = "\n".join(str(r[0]) for r in rows)
                assert "retweet_staging_batch_id_idx" in plan, plan
            assert small.merge() == MergeResult(2, 2)
        assert table(conn) == [(5, 1, 50), (5, 2, 50)]
        assert big.merge() == MergeResult(60_000, 60_000)
        other.commit()
    with psycopg.connect(db_url) as check:
        assert len(table(check)) == 60_002
        assert staged(check) == 0


def test_bulk_batches_stay_out_of_the_staging_index(conn: Connection) -> None:
    bulk = StagingBatch(conn, bulk=True)
    small = StagingBatch(conn)
    assert bulk.batch_id < 0 < small.batch_id
    bulk.copy([(1, 1, 1), (1, 2, 1)])
    small.copy([(2, 1, 1)])
    assert bulk.merge() == MergeResult(2, 2)
    assert small.merge() == MergeResult(1, 1)
    assert merge_rows(conn, [(3, 1, 1)], bulk=True) == MergeResult(1, 1)
    assert len(table(conn)) == 4
    assert staged(conn) == 0
