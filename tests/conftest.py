"""Fixtures: one real PostgreSQL for the session, a fresh database per test, the CLI as users run it."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from retweetctl.database import Connection
from retweetctl.embedded import EmbeddedServer
from retweetctl.migrations import migrate

TEMPLATE_DATABASE = "retweetctl_template"
_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedServer]:
    """The test session's own PostgreSQL: the embedded machinery, in a short temporary home."""
    home = Path(tempfile.mkdtemp(prefix="rtc-test-"))
    server = EmbeddedServer(home / "home")
    server.ensure_running()
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        # Durability buys nothing in throwaway test databases and costs seconds.
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DATABASE}"')
    with psycopg.connect(server.url(TEMPLATE_DATABASE)) as conn:
        migrate(conn)
    yield server
    server.stop()
    shutil.rmtree(home, ignore_errors=True)


@contextmanager
def scratch_database(server: EmbeddedServer, prefix: str, template: str | None) -> Iterator[str]:
    """Create a database (from template, if given), yield its URL, drop it afterwards."""
    name = f"{prefix}_{os.getpid()}_{next(_database_numbers)}"
    clause = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"{clause}')
    try:
        yield server.url(name)
    finally:
        with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(pg_server: EmbeddedServer) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    with scratch_database(pg_server, "test", TEMPLATE_DATABASE) as url:
        yield url


@pytest.fixture
def empty_db_url(pg_server: EmbeddedServer) -> Iterator[str]:
    """A database with no schema at all, for migration tests."""
    with scratch_database(pg_server, "empty", None) as url:
        yield url


@pytest.fixture
def conn(db_url: str) -> Iterator[Connection]:
    with psycopg.connect(db_url) as connection:
        yield connection


# Settings a test must not inherit from whoever runs it: ours, X credentials, libpq's.
INHERITED_SETTING_PREFIXES = ("RETWEETCTL_", "X_", "TWITTER_", "PG")


def user_env(**settings: str) -> dict[str, str]:
    """This process's environment without retweetctl, X or libpq settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_SETTING_PREFIXES)}
    env.update(settings)
    return env


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a user pointed at the test database, with no X credentials."""
    env = user_env()
    env.update(
        RETWEETCTL_DATABASE_URL=db_url,
        RETWEETCTL_HOME=str(tmp_path / "home"),
        COLUMNS="200",
    )
    return env


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(
    args: list[str], env: dict[str, str], input: str | None = None, timeout: float = 120
) -> CliResult:
    """Run `retweetctl ARGS` in a subprocess, as a user or cron would."""
    completed = subprocess.run(
        [sys.executable, "-m", "retweetctl", *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def cli(cli_env: dict[str, str]):  # type: ignore[no-untyped-def]
    """cli(args, input=None, **env_overrides) -> CliResult, run as a subprocess."""

    def invoke(args: list[str], input: str | None = None, **overrides: str) -> CliResult:
        env = dict(cli_env)
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return run_cli(args, env, input=input)

    return invoke


@pytest.fixture
def ctrl_c_works() -> Iterator[None]:
    """Children start with SIGINT's default action even if this pytest ignores SIGINT.

    A background `make test &` starts with SIGINT ignored, and an ignored signal stays
    ignored across exec (Python then installs no KeyboardInterrupt handler); a handled one
    is reset to the default. So handle it here while the test spawns its process.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)
