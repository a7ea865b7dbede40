"""Citus: distribute retweetctl's tables when the database has the extension, and describe the cluster.

On a database with the `citus` extension, `retweets`, the unlogged staging table and
the delta log of the matrix aggregate are hash-distributed by `tweet_id` and
co-located, so a merge (COPY into staging, INSERT … SELECT … ON CONFLICT, the
deltas) runs shard-local on the workers. The other tables stay plain tables on the
coordinator: they are small (users, watched_tweets, fetch_runs) or read by every
`matrix` beside each other (the cells and totals, users for labels), and no query
joins them with retweets in a way that needs them on the workers; users could not
be a reference table anyway, since its upsert sets `updated_at = now()`, which
Citus refuses in ON CONFLICT DO UPDATE on distributed and reference tables. Citus refuses triggers on distributed tables, so the
aggregate's insert triggers go and the merge appends the deltas itself
(sql/citus_merge_deltas.sql; see README "Citus").

Names are resolved through the search_path (to_regclass), never spelled `public.`.
A plain PostgreSQL is never touched by anything here.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import psycopg
from psycopg import sql

from retweetctl.errors import ConfigError, RetweetctlError, UnavailableError

__all__ = [
    "ClusterInfo",
    "DeltaMismatch",
    "check_deltas",
    "cluster_info",
    "citus_version",
    "distribute",
    "has_workers",
    "merge_feeds_deltas",
]

# The distribution column of every table that takes part in a merge: a merge of one
# batch touches every shard, and each shard's share of it stays on one worker.
DISTRIBUTION_COLUMN = "tweet_id"
# Distributed and co-located with retweets, in this order (the first is the anchor).
COLOCATED_TABLES = ("retweets", "retweet_staging", "retweet_cell_deltas")

# retweetctl.database.Connection; not imported from there: migrations import this module.
Connection = psycopg.Connection[tuple[object, ...]]
_merge_feeds_deltas: weakref.WeakKeyDictionary[Connection, bool] = weakref.WeakKeyDictionary()


class DeltaMismatch(RetweetctlError):
    """The deltas a merge appended do not count the rows it added: a bug; the merge rolls back."""


def check_deltas(added: int, deltas: int) -> None:
    if deltas != added:
        raise DeltaMismatch(
            f"the merge added {added} rows but found {deltas} of them for the matrix aggregate;"
            " nothing was stored"
        )


@dataclass(frozen=True)
class ClusterInfo:
    version: str
    workers: int
    retweets_shards: int | None  # None: retweets is not distributed (yet)


def citus_version(conn: Connection) -> str | None:
    """The citus extension's version in this database, or None on a plain PostgreSQL."""
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'citus'").fetchone()
    return str(row[0]) if row else None


def _is_distributed(conn: Connection, table: str) -> bool:
    """Whether Citus hash-distributes the table (pg_catalog: found whatever the search_path)."""
    row = conn.execute(
        "SELECT partmethod = 'h' FROM pg_catalog.pg_dist_partition"
        " WHERE logicalrelid = to_regclass(%s)",
        (table,),
    ).fetchone()
    return bool(row and row[0])


def has_workers(conn: Connection) -> bool:
    """Whether this is a Citus coordinator with at least one active worker."""
    if citus_version(conn) is None:
        return False
    row = conn.execute("SELECT count(*) FROM pg_catalog.citus_get_active_worker_nodes()").fetchone()
    return bool(row and row[0])


def cluster_info(conn: Connection) -> ClusterInfo | None:
    """Citus version, active workers and shards of retweets; None on a plain PostgreSQL."""
    version = citus_version(conn)
    if version is None:
        return None
    workers = conn.execute(
        "SELECT count(*) FROM pg_catalog.citus_get_active_worker_nodes()"
    ).fetchone()
    shards = conn.execute(
        "SELECT count(*) FROM pg_catalog.pg_dist_shard WHERE logicalrelid = to_regclass('retweets')"
    ).fetchone()
    return ClusterInfo(
        version=version,
        workers=int(workers[0]) if workers else 0,  # type: ignore[call-overload]
        retweets_shards=int(shards[0]) if shards and shards[0] else None,  # type: ignore[call-overload]
    )


def merge_feeds_deltas(conn: Connection) -> bool:
    """Whether a merge on this connection must append the aggregate's deltas itself.

    True when retweets is distributed by Citus (no triggers there); asked once per connection.
    """
    known = _merge_feeds_deltas.get(conn)
    if known is None:
        row = conn.execute(
            "SELECT to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL"
        ).fetchone()
        known = bool(row and row[0]) and (
            conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition"
                " WHERE logicalrelid = to_regclass('retweets'))"
            ).fetchone()
            == (True,)
        )
        _merge_feeds_deltas[conn] = known
    return known


def distribute(conn: Connection) -> list[str]:
    """Distribute what is not distributed yet, in one transaction; return what was done.

    Idempotent: a second call does nothing and returns []. Rows already stored move
    to the shards (Citus copies them) and the coordinator's local copies are emptied.
    ConfigError if the database has no citus extension or no active worker.
    """
    done: list[str] = []
    with conn.transaction():
        if citus_version(conn) is None:
            raise ConfigError(
                "this database has no citus extension: CREATE EXTENSION citus and add the"
                " workers (citus_add_node) first"
            )
        if not has_workers(conn):
            raise ConfigError("the Citus coordinator has no active worker nodes (citus_add_node)")
        dropped = _drop_aggregate_triggers(conn)
        if dropped:
            done.append(
                f"dropped {dropped} trigger(s) on retweets: the merge appends the aggregate's deltas"
            )
        if not _is_distributed(conn, "retweet_cell_deltas"):
            # Deltas the triggers appended carry no tweet_id to shard by: fold them in first.
            from retweetctl.aggregate import catch_up  # here: aggregate imports the migrations

            catch_up(conn)
            conn.execute("ALTER TABLE retweet_cell_deltas ADD COLUMN IF NOT EXISTS tweet_id bigint")
        for table in COLOCATED_TABLES:
            if _is_distributed(conn, table):
                continue
            colocate = "none" if table == COLOCATED_TABLES[0] else COLOCATED_TABLES[0]
            conn.execute(
                "SELECT pg_catalog.create_distributed_table(%s, %s, colocate_with => %s)",
                (_qualified(conn, table), DISTRIBUTION_COLUMN, colocate),
            )
            _drop_local_copy(conn, table)
            done.append(f"distributed {table} by {DISTRIBUTION_COLUMN}")
    _merge_feeds_deltas.pop(conn, None)
    return done


def _qualified(conn: Connection, table: str) -> str:
    """The table's name as regclass prints it on the search_path (schema-qualified if needed)."""
    row = conn.execute("SELECT to_regclass(%s)::text", (table,)).fetchone()
    if not row or row[0] is None:
        raise UnavailableError(
            f"table {table} not found on the search_path; run any command to migrate"
        )
    return str(row[0])


def _drop_aggregate_triggers(conn: Connection) -> int:
    names = [
        str(row[0])
        for row in conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('retweets')"
            " AND NOT tgisinternal ORDER BY tgname"
        )
    ]
    table = _qualified(conn, "retweets")
    for name in names:
        conn.execute(
            sql.SQL("DROP TRIGGER {} ON {}").format(
                sql.Identifier(name),
                sql.SQL(table),  # regclass text is already quoted
            )
        )
    return len(names)


def _drop_local_copy(conn: Connection, table: str) -> None:
    """create_distributed_table copies stored rows to the shards and leaves the coordinator's."""
    conn.execute(
        "SELECT pg_catalog.truncate_local_data_after_distributing_table(%s)",
        (_qualified(conn, table),),
    )
