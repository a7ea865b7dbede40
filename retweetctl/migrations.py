"""Apply the numbered files in sql/migrations/ in order, once each, one runner at a time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from retweetctl.distributed import distribute, has_workers
from retweetctl.queries import sql_dir

# Any fixed 64-bit key works; this one spells "rtwtctl1" so it is recognisable in pg_locks.
MIGRATION_LOCK_KEY = 0x7274777463746C31
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def available_migrations() -> list[Migration]:
    found = []
    for path in (sql_dir() / "migrations").iterdir():
        match = _FILE_NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), path))
    return sorted(found, key=lambda m: m.version)


def is_current(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    """Cheap check without locks: does schema_migrations already hold the newest version?"""
    latest = available_migrations()[-1].version
    try:
        exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        row = (
            conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
            if exists and exists[0]
            else None
        )
    finally:
        conn.rollback()  # leave the connection idle, as the caller handed it over
    return row is not None and row[0] == latest


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> list[Migration]:
    """Apply pending migrations in one transaction under an advisory lock; return those applied."""
    applied: list[Migration] = []
    with conn.transaction():
        # A transaction-level lock: released by commit or by the connection dying.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for migration in available_migrations():
            if migration.version in done:
                continue
            conn.execute(migration.path.read_text(encoding="utf-8"))
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied.append(migration)
        if applied and applied[0].version == 1 and has_workers(conn):
            # A new schema on a Citus coordinator: distributed while it is still empty.
            # An existing database is moved only when asked: `retweetctl db distribute`.
            distribute(conn)
    return applied
