"""Apply the numbered files in sql/migrations/ in order, once each, one runner at a time.

Everything lives in one schema (`retweetctl` unless configured): the runner
creates it when it may, points the transaction's search_path at it so the
migration files stay unqualified, and moves an installation made before
migration 0004 (tables in `public`) into it in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import errors, sql

from retweetctl.config import DEFAULT_SCHEMA
from retweetctl.distributed import distribute, has_workers
from retweetctl.errors import ConfigError
from retweetctl.queries import load, sql_dir

# Any fixed 64-bit key works; this one spells "rtwtctl1" so it is recognisable in pg_locks.
MIGRATION_LOCK_KEY = 0x7274777463746C31
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# The migration that moved the tables from `public` into their own schema.
OWN_SCHEMA_VERSION = 4

Connection = psycopg.Connection[tuple[object, ...]]


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


def is_current(conn: Connection, schema: str = DEFAULT_SCHEMA) -> bool:
    """Cheap check without locks: does the schema's schema_migrations hold the newest version?"""
    latest = available_migrations()[-1].version
    table = sql.Identifier(schema, "schema_migrations")
    try:
        exists = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (table.as_string(conn),)
        ).fetchone()
        row = (
            conn.execute(sql.SQL("SELECT max(version) FROM {}").format(table)).fetchone()
            if exists and exists[0]
            else None
        )
    except errors.InsufficientPrivilege as exc:
        conn.rollback()
        raise privilege_error(conn, schema, exc) from None
    finally:
        if not conn.closed:
            conn.rollback()  # leave the connection idle, as the caller handed it over
    return row is not None and row[0] == latest


def migrate(conn: Connection, schema: str = DEFAULT_SCHEMA) -> list[Migration]:
    """Apply pending migrations in one transaction under an advisory lock; return those applied.

    ConfigError (exit 78) naming the missing right when the role may not create
    the schema or objects in it.
    """
    try:
        return _migrate(conn, schema)
    except errors.InsufficientPrivilege as exc:
        raise privilege_error(conn, schema, exc) from None


def _migrate(conn: Connection, schema: str) -> list[Migration]:
    applied: list[Migration] = []
    with conn.transaction():
        # A transaction-level lock: released by commit or by the connection dying.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        _ensure_schema(conn, schema)
        # Only this transaction: unqualified names in the migration files mean the schema.
        conn.execute(
            "SELECT set_config('search_path', %s, true)",
            (sql.Identifier(schema).as_string(conn),),
        )
        if schema != "public" and _scalar(conn, load("migrate_legacy_found"), {"schema": schema}):
            conn.execute(load("migrate_move_to_schema"))
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


def _ensure_schema(conn: Connection, schema: str) -> None:
    """Create the schema unless it exists (CREATE SCHEMA IF NOT EXISTS needs the right anyway)."""
    if not _scalar(conn, "SELECT to_regnamespace(%(schema)s) IS NOT NULL", {"schema": schema}):
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))


def _scalar(conn: Connection, query: str | sql.SQL, params: dict[str, object]) -> object:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def privilege_error(conn: Connection, schema: str, exc: BaseException) -> ConfigError:
    """A one-line configuration error saying which right the role lacks, and how to grant it."""
    info = conn.info
    role, database = info.user, info.dbname
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if not conn.closed:
        conn.rollback()
    rights = _rights(conn, schema) if not conn.closed else None
    if rights is None or rights == (False, False, False):
        # No schema yet and no right to create one.
        need = (
            f"CREATE on database {database} to create schema {schema}"
            f" (GRANT CREATE ON DATABASE {database} TO {role};"
            f" or have an owner run CREATE SCHEMA {schema} AUTHORIZATION {role})"
        )
    elif not rights[1]:
        need = f"USAGE on schema {schema} (GRANT USAGE, CREATE ON SCHEMA {schema} TO {role})"
    elif not rights[2]:
        need = f"CREATE on schema {schema} (GRANT CREATE ON SCHEMA {schema} TO {role})"
    else:
        need = f"ownership of retweetctl's tables in schema {schema} or rights on them"
    return ConfigError(
        f"PostgreSQL role {role} lacks a right retweetctl needs: {need}; the server said: {detail}"
    )


def _rights(conn: Connection, schema: str) -> tuple[bool, bool, bool] | None:
    """(schema exists, USAGE on it, CREATE on it), read without raising."""
    try:
        row = conn.execute(load("schema_rights"), {"schema": schema}).fetchone()
    except psycopg.Error:
        return None
    finally:
        conn.rollback()
    if row is None:
        return None
    return bool(row[0]), bool(row[1]), bool(row[2])
