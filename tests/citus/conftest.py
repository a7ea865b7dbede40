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
from pathlib import Path

import pytest

from retweetctl.embedded import EmbeddedServer
from tests.citus.build import ensure_citus
from tests.citus.cluster import CitusCluster, start_cluster
from tests.conftest import user_env

_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def citus_cluster() -> Iterator[CitusCluster]:
    ensure_citus()
    home = Path(tempfile.mkdtemp(prefix="rtc-citus-"))
    cluster = CitusCluster(
        coordinator=EmbeddedServer(home / "coordinator"),
        workers=[EmbeddedServer(home / f"worker{i}") for i in (1, 2)],
    )
    try:
        cluster = start_cluster(home)
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
