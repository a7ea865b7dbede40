"""A real Citus cluster for the `citus` tests: a coordinator and two workers on Unix sockets.

Each node is an EmbeddedServer (the machinery retweetctl runs its own database with,
so as root the servers run as the same unprivileged account) in one temporary
directory, with Citus preloaded; Citus is built from third_party/citus once
(tests/citus/build.py). Every test gets its own database on all three nodes.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from retweetctl.embedded import PORT, EmbeddedServer
from tests.citus.build import ensure_citus
from tests.conftest import user_env

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
_database_numbers = itertools.count()


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


def _configure(node: EmbeddedServer) -> None:
    node.ensure_running()
    with psycopg.connect(node.url("postgres"), autocommit=True) as conn:
        for setting, value in NODE_SETTINGS.items():
            conn.execute(f"ALTER SYSTEM SET {setting} = '{value}'")
        conn.execute(f"ALTER SYSTEM SET citus.shard_count = {TEST_SHARD_COUNT}")
    node.stop()  # shared_preload_libraries and max_prepared_transactions need a restart
    node.ensure_running()


@pytest.fixture(scope="session")
def citus_cluster() -> Iterator[CitusCluster]:
    ensure_citus()
    home = Path(tempfile.mkdtemp(prefix="rtc-citus-"))
    cluster = CitusCluster(
        coordinator=EmbeddedServer(home / "coordinator"),
        workers=[EmbeddedServer(home / f"worker{i}") for i in (1, 2)],
    )
    try:
        for node in cluster.nodes:
            _configure(node)
        yield cluster
    finally:
        for node in cluster.nodes:
            node.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def citus_db(citus_cluster: CitusCluster) -> Iterator[str]:
    """A fresh database on the cluster for one test; its coordinator URL."""
    name = f"citus_{os.getpid()}_{next(_database_numbers)}"
    url = citus_cluster.create_database(name)
    try:
        yield url
    finally:
        for worker in citus_cluster.workers:
            worker.ensure_running()  # a test may have stopped one
        citus_cluster.drop_database(name)


@pytest.fixture
def citus_env(citus_db: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a user whose RETWEETCTL_DATABASE_URL is the coordinator."""
    return user_env(
        RETWEETCTL_DATABASE_URL=citus_db,
        RETWEETCTL_HOME=str(tmp_path / "home"),
        COLUMNS="200",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this directory needs the cluster: `make test` leaves them out (-m 'not citus')."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.citus)


@pytest.fixture
def db_url(citus_db: str) -> str:
    """The root conftest's fixtures (cli_env, cli, conn, fetch_cli) target the coordinator here."""
    return citus_db
