"""The cluster the other citus tests run on is a real one: three nodes, Citus loaded, shards spread."""

from __future__ import annotations

import psycopg

from tests.citus.cluster import TEST_SHARD_COUNT, CitusCluster


def test_cluster_has_two_active_workers_and_spreads_shards(
    citus_cluster: CitusCluster, citus_db: str
) -> None:
    with psycopg.connect(citus_db, autocommit=True) as conn:
        workers = conn.execute("SELECT count(*) FROM citus_get_active_worker_nodes()").fetchone()
        assert workers == (2,)
        conn.execute("CREATE TABLE t (k bigint PRIMARY KEY)")
        conn.execute("SELECT create_distributed_table('t', 'k')")
        conn.execute("INSERT INTO t SELECT generate_series(1, 1000)")
        placements = conn.execute(
            "SELECT nodename, count(*) FROM citus_shards WHERE table_name = 't'::regclass"
            " GROUP BY nodename ORDER BY nodename"
        ).fetchall()
    assert sorted(str(w.socket_dir()) for w in citus_cluster.workers) == [p[0] for p in placements]
    assert sum(int(p[1]) for p in placements) == TEST_SHARD_COUNT
