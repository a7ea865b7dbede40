"""A Citus cluster of three EmbeddedServers (coordinator + 2 workers) on Unix sockets.

Used by the citus tests (tests/citus/conftest.py) and by `make bench-citus`. Each node
is the machinery retweetctl runs its own database with, so as root the servers run as
the same unprivileged account; Citus must be installed first (tests/citus/build.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg

from retweetctl.embedded import PORT, EmbeddedServer

# Settings of every node. Two-phase commit (a write that touches two workers) needs
# prepared transactions; durability buys nothing in throwaway test clusters.
NODE_SETTINGS = {
    "shared_preload_libraries": "citus",
    "max_prepared_transactions": "100",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
# Fewer shards than Citus's default of 32: each test creates its tables anew and
# 8 shards over 2 workers still puts several shards of every table on each worker.
TEST_SHARD_COUNT = 8


@dataclass
class CitusCluster:
    coordinator: EmbeddedServer
    workers: list[EmbeddedServer]

    @property
    def nodes(self) -> list[EmbeddedServer]:
        return [self.coordinator, *self.workers]

    def create_database(self, name: str) -> str:
        """A database with Citus on every node and the workers registered; its coordinator URL."""
        for node in self.nodes:
            with psycopg.connect(node.url("postgres"), autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
        return self.add_citus(name)

    def add_citus(self, name: str) -> str:
        """Make an existing database (on the coordinator at least) a Citus one with both workers."""
        for node in self.nodes:
            with psycopg.connect(node.url("postgres"), autocommit=True) as admin:
                exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if exists.fetchone() is None:
                    admin.execute(f'CREATE DATABASE "{name}"')
            with psycopg.connect(node.url(name), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION citus")
        with psycopg.connect(self.coordinator.url(name), autocommit=True) as conn:
            conn.execute(
                "SELECT citus_set_coordinator_host(%s, %s)",
                (str(self.coordinator.socket_dir()), PORT),
            )
            for worker in self.workers:
                conn.execute("SELECT citus_add_node(%s, %s)", (str(worker.socket_dir()), PORT))
        return self.coordinator.url(name)

    def drop_database(self, name: str) -> None:
        for node in self.nodes:
            if node.status().running:
                with psycopg.connect(node.url("postgres"), autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def configure_node(node: EmbeddedServer, shard_count: int = TEST_SHARD_COUNT) -> None:
    node.ensure_running()
    with psycopg.connect(node.url("postgres"), autocommit=True) as conn:
        for setting, value in NODE_SETTINGS.items():
            conn.execute(f"ALTER SYSTEM SET {setting} = '{value}'")
        conn.execute(f"ALTER SYSTEM SET citus.shard_count = {shard_count}")
    node.stop()  # shared_preload_libraries and max_prepared_transactions need a restart
    node.ensure_running()


def start_cluster(home: Path, shard_count: int = TEST_SHARD_COUNT) -> CitusCluster:
    """Three nodes under home (initdb on first use), Citus preloaded, all running."""
    cluster = CitusCluster(
        coordinator=EmbeddedServer(home / "coordinator"),
        workers=[EmbeddedServer(home / f"worker{i}") for i in (1, 2)],
    )
    for node in cluster.nodes:
        configure_node(node, shard_count)
    return cluster
