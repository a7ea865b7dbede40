"""Fixtures for the reliability suite: a PostgreSQL of its own that tests may restart or kill."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from retweetctl.embedded import EmbeddedServer
from retweetctl.sandbox import SandboxServer
from tests.conftest import user_env


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmbeddedServer]:
    """An embedded server that only this module uses: restarting or killing it hurts no one else."""
    root = Path(tempfile.mkdtemp(prefix="rtc-rel-"))
    server = EmbeddedServer(root / "home")
    url = server.ensure_running()
    with psycopg.connect(url, autocommit=True) as conn:
        # Speed over durability against OS crashes only: a killed server must still keep
        # every commit (synchronous_commit stays on), which is what the tests check.
        for setting in ("fsync", "full_page_writes"):
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = off").format(sql.Identifier(setting)))
        conn.execute("SELECT pg_reload_conf()")
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def own_env(own_server: EmbeddedServer, tmp_path: Path) -> dict[str, str]:
    """A user of the embedded server in own_server's home (no RETWEETCTL_DATABASE_URL)."""
    return user_env(RETWEETCTL_HOME=str(own_server.home), COLUMNS="200")


@pytest.fixture
def own_url(own_server: EmbeddedServer) -> str:
    """The embedded database's URL, emptied of retweets and staging for this test."""
    url = own_server.ensure_running()
    with psycopg.connect(url, autocommit=True) as conn:
        from retweetctl.migrations import migrate

        migrate(conn)
        conn.execute("DELETE FROM retweets")
        conn.execute("DELETE FROM retweet_staging")
    return url


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """The sandbox X API on 127.0.0.1, empty: tests add tweets and faults."""
    with SandboxServer() as server:
        yield server


def restart(server: EmbeddedServer, mode: str) -> None:
    """pg_ctl restart with the given shutdown mode, as an administrator would."""
    server._run(
        "pg_ctl",
        "restart",
        "-D",
        str(server.data_dir),
        "-m",
        mode,
        "-w",
        "-t",
        "60",
        "-l",
        str(server.log_file),
        "-s",
    )
