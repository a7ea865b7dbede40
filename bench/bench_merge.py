"""make bench: retweetctl's merge against every usual way to "insert, skip what we have".

Every method starts from an identical copy of the target (a template database
cloned per run), only the method itself is timed, and every method's final
table is checked against the expected one (row count plus an order-free
checksum computed independently in Python). Ratios within one run are what
count: the machine may be shared and absolute seconds noisy.

    python bench/bench_merge.py [--large] [--repeats 3] [--sizes 100000,1000000]
        [--methods retweetctl,django,...] [--json bench-results.json]
    python bench/bench_merge.py --beside-load [--beside-rows 10000000]

--beside-load times a small merge (one fetched tweet) into an idle copy of the
target and into a copy where another session holds a big staged batch
uncommitted (a load in flight), merge by merge in turns, with the staging
index and with index scans off (the old design).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from retweetctl import ingest
from retweetctl.config import DEFAULT_SCHEMA
from retweetctl.database import with_search_path
from retweetctl.embedded import EmbeddedServer
from retweetctl.ingest import Retweet, StagingBatch, merge_rows
from retweetctl.migrations import migrate
from retweetctl.queries import load
from retweetctl.server_settings import server_settings

# The bench's rows are plain triples (ingest.Row also admits the detailed Retweet).
Row = tuple[int, int, int]

SEED = 20261127
DEFAULT_REPEATS = 3
TARGET_ROWS = 1_000_000
TARGET_ROWS_LARGE = 10_000_000
BATCH_SIZES = (100_000, 1_000_000)
# 1% of a batch repeats rows from elsewhere in the same batch (pages overlap in real captures).
REPEAT_FRACTION = 0.01
# Tweets and authors in the synthetic data: each tweet gets target/TWEETS retweeters;
# authors are skewed (a few get most retweets), as the matrix issue describes.
TWEETS = 10_000
AUTHORS = 2_000
VALUES_BATCH = 1_000
# One INSERT per row in a savepoint costs a few round trips per row: a sample says enough.
SAVEPOINT_ROWS = 20_000
# Peak RSS of `retweetctl load` is measured on files of these many rows.
RSS_ROWS = (1_000_000, 10_000_000)
# --beside-load: rows another session holds staged (the 8-10M-row load in
# flight), the small merge beside it (one tweet's page of retweeters, as fetch
# writes it) and how many small merges each figure is the median of.
BESIDE_ROWS = 10_000_000
SMALL_MERGE_ROWS = 100
SMALL_MERGE_REPEATS = 40
# The goals: a small merge beside the load <= 2x idle; bulk within 5%.
BESIDE_GOAL = 2.0
BULK_GOAL = 1.05
TEMPLATE_DB = "rtc_bench_pristine"
RUN_DB = "rtc_bench_run"
IDLE_DB = "rtc_bench_idle"  # --beside-load: the copy no other session writes to
# The checksum of a row: ((t * K1 + r) * K2 + a) mod P, summed; computed the same in SQL.
K1, K2, P = 1_000_003, 1_000_033, (1 << 61) - 1
MASK62 = (1 << 62) - 1
GOLDEN = 0x9E3779B97F4A7C15  # odd, so multiplying by it mod 2^62 is a bijection
TWEET_ID_BASE = 1_500_000_000_000_000_000
CSV_HEADER = "tweet_id,retweeter_id,author_id\n"
NOT_AVAILABLE = "not available in this build"
# Probed once in main(): whether `retweetctl load` exists in the build being measured.
LOAD_AVAILABLE = [False]


# -- data -------------------------------------------------------------------


def row_checksum(row: Row) -> int:
    tweet_id, retweeter_id, author_id = row
    return ((tweet_id * K1 + retweeter_id) * K2 + author_id) % P


CHECKSUM_SQL = (
    "SELECT count(*), coalesce(sum(((tweet_id::numeric * %s + retweeter_id) * %s + author_id)"
    " %% %s), 0) FROM retweets"
)


@dataclass(frozen=True)
class Universe:
    """Row i of the universe: unique (tweet_id, retweeter_id) by construction."""

    tweet_ids: tuple[int, ...]
    tweet_authors: tuple[int, ...]

    @classmethod
    def make(cls, rng: random.Random) -> Universe:
        tweet_ids = tuple(
            TWEET_ID_BASE + ((t * GOLDEN) & ((1 << 50) - 1)) for t in range(1, TWEETS + 1)
        )
        # Pareto-skewed authors: a few authors own most tweets.
        authors = tuple(
            10_000 + min(int(rng.paretovariate(1.2)) - 1, AUTHORS - 1) * 7919 for _ in tweet_ids
        )
        return cls(tweet_ids, authors)

    def row(self, i: int) -> Row:
        t = i % TWEETS
        # Unique per i: many retweeters retweet once, and new rows land all over the key space.
        return (self.tweet_ids[t], ((i * GOLDEN) & MASK62) + 1, self.tweet_authors[t])

    def rows(self, start: int, stop: int) -> Iterator[Row]:
        row = self.row
        return (row(i) for i in range(start, stop))


@dataclass
class Workload:
    target: int  # N: rows already stored
    size: int  # M: rows in the batch, repeats included
    batch: list[Row]
    new_rows: list[Row]  # the distinct rows of the batch not in the target
    is_new: list[bool]  # per batch row: not in the target

    @property
    def label(self) -> str:
        return f"M={_count(self.size)} N={_count(self.target)}"


def make_workload(universe: Universe, target: int, size: int, seed: int) -> Workload:
    """M rows: half of the distinct ones already stored, 1% repeats, shuffled; deterministic."""
    rng = random.Random(seed * 1_000_003 + size)
    repeats = int(size * REPEAT_FRACTION)
    distinct = size - repeats
    stored = distinct // 2
    indices = rng.sample(range(target), stored) + list(range(target, target + distinct - stored))
    indices += rng.choices(indices, k=repeats)
    rng.shuffle(indices)
    batch = [universe.row(i) for i in indices]
    new_indices = sorted({i for i in indices if i >= target})
    new_rows = sorted(universe.row(i) for i in new_indices)
    return Workload(target, size, batch, new_rows, [i >= target for i in indices])


def _count(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


# -- the server -------------------------------------------------------------


@dataclass
class Server:
    admin_url: str  # a database to issue CREATE/DROP DATABASE from
    home: Path  # RETWEETCTL_HOME for the CLI runs

    def url(self, database: str) -> str:
        # retweetctl's schema first, as its own connections have it (any server, not only ours).
        return with_search_path(make_conninfo(self.admin_url, dbname=database), DEFAULT_SCHEMA)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.admin_url, autocommit=True)

    def clone(self, source: str, target: str) -> None:
        """A fresh copy of a database; FILE_COPY checkpoints first, so runs do not inherit dirty pages."""
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}" STRATEGY FILE_COPY')

    def drop(self, database: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@contextlib.contextmanager
def bench_server() -> Iterator[Server]:
    """RETWEETCTL_DATABASE_URL if set (needs CREATEDB), else an embedded server in a scratch home."""
    home = Path(tempfile.mkdtemp(prefix="rtc-bench-"))
    try:
        configured = os.environ.get("RETWEETCTL_DATABASE_URL")
        if configured:
            yield Server(make_conninfo(configured), home)
            return
        # sized as retweetctl sizes it, with RETWEETCTL_PG_SETTINGS on top (as the CLI does)
        sized = server_settings(os.environ.get("RETWEETCTL_PG_SETTINGS"))
        server = EmbeddedServer(home / "home", settings=sized)
        server.ensure_running()
        try:
            yield Server(server.url("postgres"), home / "home")
        finally:
            server.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def build_template(server: Server, universe: Universe, target: int) -> tuple[int, int]:
    """The pristine target: migrated schema, N rows, indexes built after the load; its checksum."""
    server.drop(TEMPLATE_DB)
    with server.admin() as conn:
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
    with psycopg.connect(server.url(TEMPLATE_DB)) as conn:
        migrate(conn)
        with conn.transaction():
            # Build the indexes after the load (minutes faster at 10M), exactly as defined.
            indexes = [
                str(r[0])
                for r in conn.execute(
                    "SELECT pg_get_indexdef(indexrelid) FROM pg_index"
                    " WHERE indrelid = 'retweets'::regclass AND NOT indisprimary"
                )
            ]
            conn.execute("ALTER TABLE retweets DROP CONSTRAINT retweets_pkey")
            for r in conn.execute(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'retweets'::regclass"
            ).fetchall():
                conn.execute(f"DROP INDEX {r[0]}")
            with (
                conn.cursor() as cur,
                cur.copy(
                    "COPY retweets (tweet_id, retweeter_id, author_id) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["int8", "int8", "int8"])
                for row in universe.rows(0, target):
                    copy.write_row(row)
            conn.execute("ALTER TABLE retweets ADD PRIMARY KEY (tweet_id, retweeter_id)")
            for definition in indexes:
                conn.execute(definition)
        conn.autocommit = True
        # Hint bits and the visibility map set, as on a table that has been in use.
        conn.execute("VACUUM (FREEZE, ANALYZE) retweets")
        found = conn.execute(CHECKSUM_SQL, (K1, K2, P)).fetchone()
        assert found is not None
        return int(found[0]), int(found[1])


def server_info(server: Server) -> dict[str, str]:
    with server.admin() as conn:
        info = {"server_version": str(_scalar(conn, "SHOW server_version"))}
        for name in (
            "shared_buffers",
            "work_mem",
            "maintenance_work_mem",
            "max_wal_size",
            "fsync",
            "synchronous_commit",
        ):
            info[name] = str(_scalar(conn, f"SHOW {name}"))
    return info


def _scalar(conn: psycopg.Connection[tuple[object, ...]], sql: str) -> object:
    row = conn.execute(sql.encode()).fetchone()
    assert row is not None
    return row[0]


# -- the methods ------------------------------------------------------------

Conn = psycopg.Connection[tuple[object, ...]]


@dataclass
class Context:
    """What a method gets: the run database (a fresh copy of the target) and the workload."""

    server: Server
    url: str
    work: Workload
    files: dict[str, Path]


class NotAvailable(Exception):
    """The build being measured lacks what this method needs."""


@dataclass
class Method:
    key: str
    title: str
    run: Callable[[Context], float]  # returns the timed seconds
    note: str = ""
    # Rows the method is measured on, when not the whole batch (reported per row).
    sample: int | None = None
    # Variants of the merge statement, measured on request (--methods) to weigh changes to it.
    default: bool = True


def timed(ctx: Context, body: Callable[[Conn], None], *, autocommit: bool = False) -> float:
    with psycopg.connect(ctx.url, autocommit=autocommit) as conn:
        start = time.perf_counter()
        body(conn)
        conn.commit()
        return time.perf_counter() - start


def m_retweetctl(ctx: Context) -> float:
    def body(conn: Conn) -> None:
        # A bulk batch, as load stages a file.
        result = merge_rows(conn, ctx.work.batch, bulk=True)
        assert result.added == len(ctx.work.new_rows), result

    return timed(ctx, body)


def m_unindexed(ctx: Context) -> float:
    """merge_rows on the staging table as it was before migration 0004: no batch_id index."""
    # Bulk batches are outside the partial index; this weighs what remains (the predicate).
    with psycopg.connect(ctx.url, autocommit=True) as conn:
        conn.execute("DROP INDEX retweet_staging_batch_id_idx")
    return m_retweetctl(ctx)


def m_load(ctx: Context) -> float:
    if not LOAD_AVAILABLE[0]:
        raise NotAvailable("retweetctl load takes no --format/--quiet here")
    csv = ctx.files["csv"]
    seconds, _rss = run_load(ctx.server, ctx.url, csv)
    return seconds


# Linux keeps a process's peak RSS across fork and exec: a child forked from this
# benchmark (which holds the generated data) would report the benchmark's own size.
# A small trampoline process forks the command instead and reports its peak alone.
_RSS_TRAMPOLINE = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"\\nRETWEETCTL-BENCH-MAXRSS-KIB {usage.ru_maxrss}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_load(server: Server, url: str, csv: Path) -> tuple[float, int]:
    """`retweetctl load FILE.csv --format csv --quiet`: seconds and peak RSS in bytes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETWEETCTL_", "PG"))}
    env.update(RETWEETCTL_DATABASE_URL=url, RETWEETCTL_HOME=str(server.home))
    command = [str(retweetctl_exe()), "load", str(csv), "--format", "csv", "--quiet"]
    with tempfile.TemporaryDirectory(prefix="rtc-load-") as cwd:
        start = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-c", _RSS_TRAMPOLINE, *command],
            env=env,
            cwd=cwd,  # a rejects file, if any, lands here
            capture_output=True,
            check=False,
        )
        seconds = time.perf_counter() - start
    err = child.stderr.decode(errors="replace")
    marker = "RETWEETCTL-BENCH-MAXRSS-KIB "
    if child.returncode != 0 or marker not in err:
        text = (err.split(marker)[0] or child.stdout.decode(errors="replace")).strip()
        raise RuntimeError(f"retweetctl load exited {child.returncode}: {text}")
    maxrss_kib = int(err.rsplit(marker, 1)[1].split()[0])
    return seconds, maxrss_kib * 1024  # ru_maxrss is in KiB on Linux


def retweetctl_exe() -> Path:
    return Path(sys.executable).with_name("retweetctl")


def load_available() -> bool:
    """Whether this build's `retweetctl load` takes the options the benchmark uses."""
    help_text = subprocess.run(
        [str(retweetctl_exe()), "load", "--help"], capture_output=True, text=True, check=False
    ).stdout
    return "--format" in help_text and "--quiet" in help_text


def m_django(ctx: Context) -> float:
    from django.db import connections
    from djangobench.models import Retweet

    conn = connections["default"]
    conn.close()
    conn.settings_dict.update(django_database(ctx.url))
    conn.ensure_connection()
    try:
        start = time.perf_counter()
        objs = [Retweet(tweet_id=t, retweeter_id=r, author_id=a) for t, r, a in ctx.work.batch]
        Retweet.objects.bulk_create(objs, ignore_conflicts=True)
        return time.perf_counter() - start
    finally:
        conn.close()


def django_database(url: str) -> dict[str, object]:
    params = conninfo_to_dict(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": params.get("dbname", ""),
        "USER": params.get("user", ""),
        "PASSWORD": params.get("password", ""),
        "HOST": params.get("host", ""),
        "PORT": params.get("port", ""),
        "OPTIONS": {},
    }


def setup_django(url: str) -> None:
    import django
    from django.conf import settings

    sys.path.insert(0, str(Path(__file__).parent))
    settings.configure(
        DATABASES={"default": django_database(url)},
        INSTALLED_APPS=["djangobench"],
        USE_TZ=True,
    )
    django.setup()


def m_old_recipe(ctx: Context) -> float:
    rows = list(dict.fromkeys(ctx.work.batch))  # de-duplicated beforehand: see the note

    def body(conn: Conn) -> None:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(
                "CREATE TEMP TABLE scratch (tweet_id bigint, retweeter_id bigint, author_id bigint)"
                " ON COMMIT DROP"
            )
            with cur.copy("COPY scratch FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute("LOCK TABLE retweets IN EXCLUSIVE MODE")
            cur.execute(
                "INSERT INTO retweets (tweet_id, retweeter_id, author_id)"
                " SELECT s.tweet_id, s.retweeter_id, s.author_id FROM scratch s"
                " WHERE NOT EXISTS (SELECT 1 FROM retweets r"
                " WHERE r.tweet_id = s.tweet_id AND r.retweeter_id = s.retweeter_id)"
            )
            assert cur.rowcount == len(ctx.work.new_rows)

    return timed(ctx, body)


INSERT_ONE = (
    "INSERT INTO retweets (tweet_id, retweeter_id, author_id) VALUES (%s, %s, %s)"
    " ON CONFLICT DO NOTHING"
)


def m_executemany(ctx: Context) -> float:
    def body(conn: Conn) -> None:
        with conn.cursor() as cur:
            cur.executemany(INSERT_ONE, ctx.work.batch)

    return timed(ctx, body)


def m_values(ctx: Context) -> float:
    batch = ctx.work.batch

    def body(conn: Conn) -> None:
        with conn.cursor() as cur:
            for start in range(0, len(batch), VALUES_BATCH):
                chunk = batch[start : start + VALUES_BATCH]
                placeholders = ",".join(["(%s,%s,%s)"] * len(chunk))
                cur.execute(
                    "INSERT INTO retweets (tweet_id, retweeter_id, author_id)"  # noqa: S608
                    f" VALUES {placeholders} ON CONFLICT DO NOTHING",
                    [value for row in chunk for value in row],
                )

    return timed(ctx, body)


def m_unnest(ctx: Context) -> float:
    def body(conn: Conn) -> None:
        tweets, retweeters, authors = (list(column) for column in zip(*ctx.work.batch, strict=True))
        conn.execute(
            "INSERT INTO retweets (tweet_id, retweeter_id, author_id)"
            " SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[])"
            " ON CONFLICT DO NOTHING",
            (tweets, retweeters, authors),
        )

    return timed(ctx, body)


def m_savepoint(ctx: Context) -> float:
    rows = ctx.work.batch[:SAVEPOINT_ROWS]

    def body(conn: Conn) -> None:
        for row in rows:
            try:
                with conn.transaction():  # a savepoint inside the outer transaction
                    conn.execute(
                        "INSERT INTO retweets (tweet_id, retweeter_id, author_id)"
                        " VALUES (%s, %s, %s)",
                        row,
                    )
            except psycopg.errors.UniqueViolation:
                pass

    def outer(conn: Conn) -> None:
        with conn.transaction():
            body(conn)

    return timed(ctx, outer)


def m_floor(ctx: Context) -> float:
    """COPY the batch into an unindexed unlogged table + COPY only the new rows, sorted, into the target."""
    new_rows = ctx.work.new_rows  # known and sorted before the clock starts

    def copy_rows(conn: Conn, table: str, rows: Sequence[Row]) -> None:
        with (
            conn.cursor() as cur,
            cur.copy(
                f"COPY {table} (tweet_id, retweeter_id, author_id) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["int8", "int8", "int8"])
            for row in rows:
                copy.write_row(row)

    with psycopg.connect(ctx.url, autocommit=True) as conn:
        conn.execute(
            "CREATE UNLOGGED TABLE floor_batch (tweet_id bigint, retweeter_id bigint, author_id bigint)"
        )
        start = time.perf_counter()
        with conn.transaction():
            copy_rows(conn, "floor_batch", ctx.work.batch)
            copy_rows(conn, "retweets", new_rows)
        seconds = time.perf_counter() - start
        conn.execute("DROP TABLE floor_batch")
    return seconds


# A non-speculative INSERT of the anti-joined batch: what a fast path could look like
# (it raises unique_violation if a concurrent writer got there first, so it would
# need a fallback to ON CONFLICT); DISTINCT ON drops repeats inside the batch.
PLAIN_INSERT = """
INSERT INTO retweets (tweet_id, retweeter_id, author_id)
SELECT DISTINCT ON (s.tweet_id, s.retweeter_id) s.tweet_id, s.retweeter_id, s.author_id
FROM retweet_staging s
WHERE s.batch_id = %(batch_id)s
  AND NOT EXISTS (SELECT 1 FROM retweets r
                  WHERE r.tweet_id = s.tweet_id AND r.retweeter_id = s.retweeter_id)
ORDER BY s.tweet_id, s.retweeter_id
"""


# The library's statement with the already-stored rows removed first by an anti-join.
# Planned as a hash anti-join (one pass over the target) instead of one index probe per
# batch row; the planner only picks it when told the staging batch is large.
ANTI_JOIN_INSERT = """
INSERT INTO retweets (tweet_id, retweeter_id, author_id)
SELECT s.tweet_id, s.retweeter_id, s.author_id
FROM retweet_staging s
WHERE s.batch_id = %(batch_id)s
  AND NOT EXISTS (SELECT 1 FROM retweets r
                  WHERE r.tweet_id = s.tweet_id AND r.retweeter_id = s.retweeter_id)
ORDER BY s.tweet_id, s.retweeter_id
ON CONFLICT (tweet_id, retweeter_id) DO NOTHING
"""
HASH_ANTI_JOIN = ("enable_nestloop = off", "enable_mergejoin = off")


# Drop the staged rows the target already holds (one hash join), then the library's merge.
PRUNE_STAGED = """
DELETE FROM retweet_staging s USING retweets r
WHERE s.batch_id = %(batch_id)s
  AND r.tweet_id = s.tweet_id AND r.retweeter_id = s.retweeter_id
"""


def m_prune(ctx: Context) -> float:
    def body(conn: Conn) -> None:
        with conn.transaction():
            for setting in HASH_ANTI_JOIN:
                conn.execute(f"SET LOCAL {setting}")
            batch = StagingBatch(conn)
            batch.copy(ctx.work.batch)
            conn.execute(PRUNE_STAGED.encode(), {"batch_id": batch.batch_id})
            result = batch.merge()
            assert result.added == len(ctx.work.new_rows), result

    return timed(ctx, body)


def with_prune(min_rows: int, min_fraction: float) -> Callable[[Context], float]:
    """merge_rows with other thresholds for StagingBatch's prune of already-stored rows."""

    def run(ctx: Context) -> float:
        saved = ingest.PRUNE_MIN_ROWS, ingest.PRUNE_MIN_FRACTION
        ingest.PRUNE_MIN_ROWS, ingest.PRUNE_MIN_FRACTION = min_rows, min_fraction
        try:
            return m_retweetctl(ctx)
        finally:
            ingest.PRUNE_MIN_ROWS, ingest.PRUNE_MIN_FRACTION = saved

    return run


def merge_variant(sql: str, settings: Sequence[str] = ()) -> Callable[[Context], float]:
    """The library's staging (StagingBatch.copy) followed by another merge statement."""

    def run(ctx: Context) -> float:
        def body(conn: Conn) -> None:
            with conn.transaction():
                for setting in settings:
                    conn.execute(f"SET LOCAL {setting}")
                batch = StagingBatch(conn)
                batch.copy(ctx.work.batch)
                params = {"batch_id": batch.batch_id}
                cur = conn.execute(sql.encode(), params)
                assert cur.rowcount == len(ctx.work.new_rows), cur.rowcount
                conn.execute("DELETE FROM retweet_staging WHERE batch_id = %(batch_id)s", params)

        return timed(ctx, body)

    return run


NEW_ROWS_OUT = """
COPY (
    SELECT DISTINCT ON (s.tweet_id, s.retweeter_id) s.tweet_id, s.retweeter_id, s.author_id
    FROM retweet_staging s
    WHERE s.batch_id = {batch_id}
      AND NOT EXISTS (SELECT 1 FROM retweets r
                      WHERE r.tweet_id = s.tweet_id AND r.retweeter_id = s.retweeter_id)
    ORDER BY s.tweet_id, s.retweeter_id
) TO STDOUT (FORMAT BINARY)
"""


def m_copy_back(ctx: Context) -> float:
    """Stage, read back only the new rows (binary, sorted), COPY them into retweets.

    COPY into retweets uses the heap's multi-insert and no speculative
    insertion: the floor's own path. A concurrent writer that inserted one of
    the rows meanwhile makes it fail with unique_violation; then the savepoint
    is rolled back and the usual ON CONFLICT merge runs instead.
    """

    def body(conn: Conn) -> None:
        with conn.transaction():
            batch = StagingBatch(conn)
            batch.copy(ctx.work.batch)
            with conn.cursor() as cur:
                out = NEW_ROWS_OUT.format(batch_id=int(batch.batch_id))
                with cur.copy(out.encode()) as copy:
                    data = b"".join(copy)
                try:
                    with (
                        conn.transaction(),
                        cur.copy(
                            b"COPY retweets (tweet_id, retweeter_id, author_id) FROM STDIN (FORMAT BINARY)"
                        ) as copy,
                    ):
                        copy.write(data)
                    added = cur.rowcount
                except psycopg.errors.UniqueViolation:
                    added = batch.merge().added
                else:
                    cur.execute(
                        "DELETE FROM retweet_staging WHERE batch_id = %s", (batch.batch_id,)
                    )
            assert added == len(ctx.work.new_rows), added

    return timed(ctx, body)


# Times in the batch: when the retweets endpoint or a twarc2 capture brings them.
TIME_BASE = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def with_times(batch: Sequence[Row]) -> list[Retweet]:
    """The batch as Retweet rows carrying a retweet id and a time (deterministic per row)."""
    rows = []
    for t, r, a in batch:
        key = (t * K1 + r) % P
        rows.append(
            Retweet(t, r, a, key + 1, TIME_BASE + datetime.timedelta(seconds=key % 31_536_000))
        )
    return rows


def m_times(backfill: bool, stored_timed: bool) -> Callable[[Context], float]:
    """The batch with times merged; backfill=False runs merge() without the time-filling UPDATE.

    stored_timed: first merge the batch once (untimed), so every stored row of the batch
    already has its time and the timed merge is the common path of a re-fetch.
    """

    def run(ctx: Context) -> float:
        rows = with_times(ctx.work.batch)
        if stored_timed:
            with psycopg.connect(ctx.url, autocommit=True) as conn:
                merge_rows(conn, rows)
                conn.execute("VACUUM retweets")  # the UPDATE's dead rows, as autovacuum would
        expected = 0 if stored_timed else len(ctx.work.new_rows)

        def body(conn: Conn) -> None:
            with conn.transaction():
                batch = StagingBatch(conn)
                batch.copy(rows)
                if not backfill:
                    batch.timed = 0  # merge() then skips merge_backfill_times.sql
                result = batch.merge()
                assert result.added == expected, result

        return timed(ctx, body)

    return run


METHODS = [
    Method("retweetctl", "retweetctl merge (library: merge_rows)", m_retweetctl),
    Method(
        "unindexed",
        "baseline: merge_rows, staging without the batch_id index",
        m_unindexed,
        note="the staging table before migration 0004, for the bulk-cost goal",
    ),
    Method("load", "retweetctl load FILE.csv --format csv --quiet", m_load),
    Method("django", "Django bulk_create(ignore_conflicts=True)", m_django),
    Method(
        "old_recipe",
        "old recipe: scratch + LOCK EXCLUSIVE + NOT EXISTS",
        m_old_recipe,
        note="given the batch de-duplicated in Python first: with repeats inside the batch it fails",
    ),
    Method("executemany", "psycopg executemany INSERT ON CONFLICT", m_executemany),
    Method("values", f"multi-row VALUES, {VALUES_BATCH} rows a statement", m_values),
    Method("unnest", "INSERT SELECT FROM unnest(arrays)", m_unnest),
    Method(
        "savepoint",
        "one INSERT per row in a savepoint",
        m_savepoint,
        note=f"measured on the first {_count(SAVEPOINT_ROWS)} rows; rows/s and ratio per row",
        sample=SAVEPOINT_ROWS,
    ),
    Method(
        "floor",
        "floor: COPY batch to unlogged + COPY new rows sorted",
        m_floor,
        note="new rows known and sorted before the clock starts",
    ),
    Method(
        "plain_insert",
        "variant: staging + plain INSERT of the anti-join",
        merge_variant(PLAIN_INSERT),
        default=False,
    ),
    Method(
        "no_prune",
        "variant: merge_rows without the prune of stored rows",
        with_prune(sys.maxsize, 1.0),
        default=False,
    ),
    Method(
        "always_prune",
        "variant: merge_rows pruning stored rows whatever the sizes",
        with_prune(1, 0.0),
        default=False,
    ),
    Method(
        "anti_hash",
        "variant: hash anti-join first, then ORDER BY + ON CONFLICT",
        merge_variant(ANTI_JOIN_INSERT, HASH_ANTI_JOIN),
        default=False,
    ),
    Method(
        "prune",
        "variant: staging, DELETE staged rows already stored (hash join), merge()",
        m_prune,
        default=False,
    ),
    Method(
        "copy_back",
        "variant: staging + new rows read back and COPYed in",
        m_copy_back,
        default=False,
    ),
    Method(
        "work_mem",
        "variant: merge_rows with SET LOCAL work_mem = 64MB",
        merge_variant(load("merge_staged").as_string(), ["work_mem = '64MB'"]),
        default=False,
    ),
    Method(
        "times_fill",
        "variant: batch with times, stored rows without: filled",
        m_times(backfill=True, stored_timed=False),
        default=False,
    ),
    Method(
        "times_nofill",
        "variant: batch with times, stored rows without: not filled",
        m_times(backfill=False, stored_timed=False),
        default=False,
    ),
    Method(
        "times_again",
        "variant: batch with times, stored rows with times (re-fetch)",
        m_times(backfill=True, stored_timed=True),
        default=False,
    ),
    Method(
        "times_again_nofill",
        "variant: batch with times, stored rows with times, no fill statement",
        m_times(backfill=False, stored_timed=True),
        default=False,
    ),
]


# -- running ----------------------------------------------------------------


@dataclass
class Result:
    workload: str
    method: str
    rows: int
    seconds: list[float] = field(default_factory=list)
    unavailable: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def expected_checksum(
    pristine: tuple[int, int], work: Workload, sample: int | None
) -> tuple[int, int]:
    if sample is None:
        new = work.new_rows
    else:
        new = sorted(
            {r for r, n in zip(work.batch[:sample], work.is_new[:sample], strict=True) if n}
        )
    return pristine[0] + len(new), pristine[1] + sum(row_checksum(r) for r in new)


def check_table(url: str, expected: tuple[int, int], what: str) -> None:
    with psycopg.connect(url) as conn:
        found = conn.execute(CHECKSUM_SQL, (K1, K2, P)).fetchone()
        staged = _scalar(conn, "SELECT count(*) FROM retweet_staging")
    assert found is not None
    got = (int(found[0]), int(found[1]))
    if got != expected:
        raise AssertionError(f"{what}: final table differs: got {got}, expected {expected}")
    if staged != 0:
        raise AssertionError(f"{what}: {staged} rows left in retweet_staging")


def write_csv(path: Path, rows: Iterator[Row] | Sequence[Row]) -> None:
    with path.open("w", encoding="ascii", buffering=1 << 20) as out:
        out.write(CSV_HEADER)
        for t, r, a in rows:
            out.write(f"{t},{r},{a}\n")


def run_workload(
    server: Server,
    work: Workload,
    pristine: tuple[int, int],
    methods: Sequence[Method],
    repeats: int,
    scratch: Path,
    log: Callable[[str], None],
) -> list[Result]:
    files = {"csv": scratch / f"batch-{work.size}.csv"}
    write_csv(files["csv"], work.batch)
    results = {
        m.key: Result(work.label, m.key, min(m.sample or work.size, work.size)) for m in methods
    }
    # Round-robin, not method after method: load from the other tenants of a shared
    # machine drifts over minutes, and it then weighs on every method alike.
    for attempt in range(repeats):
        for method in methods:
            result = results[method.key]
            if result.unavailable:
                continue
            server.clone(TEMPLATE_DB, RUN_DB)
            ctx = Context(server, server.url(RUN_DB), work, files)
            try:
                seconds = method.run(ctx)
            except NotAvailable as exc:
                result.unavailable = str(exc)
                log(f"  {work.label} {method.key:<12} {NOT_AVAILABLE}: {exc}")
                continue
            expected = expected_checksum(pristine, work, method.sample)
            check_table(ctx.url, expected, f"{method.key} {work.label}")
            result.seconds.append(seconds)
            log(
                f"  {work.label} {method.key:<12} run {attempt + 1}: {seconds:8.3f} s  (table checked)"
            )
    server.drop(RUN_DB)
    files["csv"].unlink()
    return list(results.values())


def measure_rss(
    server: Server, universe: Universe, target: int, scratch: Path, log: Callable[[str], None]
) -> dict[str, object]:
    """Peak RSS of `retweetctl load` on CSV files of 1M and 10M new rows."""
    figures: dict[str, object] = {}
    if not LOAD_AVAILABLE[0]:
        log(f"  peak RSS of load: {NOT_AVAILABLE}")
        return {"unavailable": "retweetctl load takes no --format/--quiet here"}
    for rows in RSS_ROWS:
        path = scratch / f"rss-{rows}.csv"
        # Rows beyond the target and every batch: all new, so the load does its full work.
        write_csv(path, universe.rows(target * 2, target * 2 + rows))
        server.clone(TEMPLATE_DB, RUN_DB)
        try:
            seconds, rss = run_load(server, server.url(RUN_DB), path)
        finally:
            path.unlink()
        figures[str(rows)] = {"peak_rss_bytes": rss, "seconds": seconds}
        log(f"  load of {_count(rows)} CSV rows: {seconds:.1f} s, peak RSS {rss / 2**20:.0f} MiB")
    server.drop(RUN_DB)
    return figures


# -- the report -------------------------------------------------------------


def format_table(results: list[Result], methods: Sequence[Method]) -> str:
    titles = {m.key: m.title for m in methods}
    header = "| workload | method | median s | rows/s | × retweetctl time |"
    lines = [header, "|---|---|---:|---:|---:|"]
    reference = {
        r.workload: r.median / r.rows for r in results if r.method == "retweetctl" and r.seconds
    }
    for r in results:
        if r.unavailable:
            lines.append(f"| {r.workload} | {titles[r.method]} | {NOT_AVAILABLE} | | |")
            continue
        per_row = r.median / r.rows
        ratio = per_row / reference[r.workload] if r.workload in reference else float("nan")
        rows = "" if r.rows == _workload_size(r.workload) else f" ({_count(r.rows)} rows)"
        lines.append(
            f"| {r.workload} | {titles[r.method]}{rows} | {r.median:.2f} | {r.rows / r.median:,.0f} | {ratio:.2f} |"
        )
    return "\n".join(lines)


def _workload_size(label: str) -> int:
    size = label.split()[0].removeprefix("M=")
    return int(size[:-1]) * (1_000_000 if size.endswith("M") else 1000)


def targets(results: list[Result], rss: dict[str, object]) -> list[str]:
    """The issue's targets, each as a ratio from this run."""
    by = {(r.workload, r.method): r for r in results if r.seconds}
    out = []
    for workload in dict.fromkeys(r.workload for r in results):
        ref = by.get((workload, "retweetctl"))
        if ref is None:
            continue
        unindexed = by.get((workload, "unindexed"))
        if unindexed is not None:
            ratio = ref.median / unindexed.median
            verdict = "met" if ratio <= BULK_GOAL else "MISSED"
            out.append(
                f"{workload}: merge with the staging index takes {ratio:.3f}x the unindexed"
                f" staging (goal <= {BULK_GOAL}): {verdict}"
            )
        if not workload.startswith("M=1M"):
            continue
        floor_limit = 1.25 if workload.endswith("N=1M") else 1.5
        for key, goal, faster in (
            ("django", 8.0, True),
            ("old_recipe", 5.0, True),
            ("floor", floor_limit, False),
            ("load", 1.5, False),
        ):
            other = by.get((workload, key))
            if other is None:
                out.append(f"{workload}: {key}: not measured")
                continue
            if faster:
                ratio = other.median / ref.median
                verdict = "met" if ratio >= goal else "MISSED"
                out.append(
                    f"{workload}: {key} takes {ratio:.2f}x the time of the retweetctl merge (goal >= {goal}x): {verdict}"
                )
            elif key == "floor":
                ratio = ref.median / other.median
                verdict = "met" if ratio <= goal else "MISSED"
                out.append(
                    f"{workload}: retweetctl takes {ratio:.2f}x the floor (goal <= {goal}x): {verdict}"
                )
            else:
                ratio = other.median / ref.median
                verdict = "met" if ratio <= goal else "MISSED"
                out.append(
                    f"{workload}: load takes {ratio:.2f}x the library merge (goal <= {goal}x): {verdict}"
                )
    sizes = [rss.get(str(n)) for n in RSS_ROWS]
    if all(isinstance(s, dict) for s in sizes):
        small, large = (int(s["peak_rss_bytes"]) for s in sizes if isinstance(s, dict))
        ratio = large / small
        verdict = "met" if ratio <= 1.2 else "MISSED"
        out.append(f"load peak RSS 10M / 1M rows: {ratio:.2f} (goal <= 1.2): {verdict}")
    return out


# -- a small merge beside a load in flight ------------------------------------


def _small_merges(
    urls: Sequence[str], universe: Universe, start: int, settings: Sequence[str]
) -> list[list[float]]:
    """Seconds of SMALL_MERGE_REPEATS merges of SMALL_MERGE_ROWS new rows into each database.

    The databases take turns, merge by merge (the first one first, then the other
    first): whatever else the machine is doing weighs on both alike.
    """
    seconds: list[list[float]] = [[] for _ in urls]
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(psycopg.connect(url)) for url in urls]
        for conn in conns:
            for setting in settings:
                conn.execute(f"SET {setting}")
            conn.commit()
        # One more than measured: the first merge of a session warms caches and plans.
        for n in range(SMALL_MERGE_REPEATS + 1):
            first = start + n * SMALL_MERGE_ROWS
            rows = list(universe.rows(first, first + SMALL_MERGE_ROWS))
            turn = list(enumerate(conns))
            for which, conn in turn if n % 2 else reversed(turn):
                t0 = time.perf_counter()
                result = merge_rows(conn, rows)
                if n:
                    seconds[which].append(time.perf_counter() - t0)
                assert result.added == SMALL_MERGE_ROWS, result
    return seconds


class _LoadInFlight:
    """Another session that stages `rows` rows and holds them uncommitted until stopped."""

    def __init__(self, url: str, universe: Universe, start: int, rows: int) -> None:
        self.staged = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(
            target=self._run, args=(url, universe, start, rows), daemon=True
        )

    def _run(self, url: str, universe: Universe, start: int, rows: int) -> None:
        try:
            with psycopg.connect(url) as conn:
                t0 = time.perf_counter()
                batch = StagingBatch(conn, bulk=True)  # as load stages a file
                batch.copy(universe.rows(start, start + rows))
                self.seconds = time.perf_counter() - t0
                self.staged.set()
                self.done.wait()
                conn.rollback()
        except BaseException as exc:  # reported by the main thread
            self.error = exc
            self.staged.set()

    def __enter__(self) -> _LoadInFlight:
        self._thread.start()
        self.staged.wait()
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self._thread.join()


def bench_beside_load(
    server: Server, universe: Universe, target: int, rows: int, log: Callable[[str], None]
) -> list[str]:
    """Small merges into an idle copy and beside `rows` staged rows of another session; report lines."""
    server.clone(TEMPLATE_DB, RUN_DB)
    server.clone(TEMPLATE_DB, IDLE_DB)
    urls = [server.url(IDLE_DB), server.url(RUN_DB)]
    # Index scans off: the plans of the old, unindexed staging (index upkeep of 100 rows aside).
    old_design = ("enable_indexscan = off", "enable_bitmapscan = off")
    # Fresh, never-stored rows for every merge: after the target and the load's rows.
    start = target * 2 + rows
    step = (SMALL_MERGE_REPEATS + 1) * SMALL_MERGE_ROWS
    with _LoadInFlight(urls[1], universe, target * 2, rows) as load_in_flight:
        log(f"  another session staged {_count(rows)} rows in {load_in_flight.seconds:.1f} s")
        idle_runs, beside_runs = _small_merges(urls, universe, start, ())
        idle_old_runs, beside_old_runs = _small_merges(urls, universe, start + step, old_design)
    server.drop(RUN_DB)
    server.drop(IDLE_DB)
    idle, beside = statistics.median(idle_runs), statistics.median(beside_runs)
    idle_old, beside_old = statistics.median(idle_old_runs), statistics.median(beside_old_runs)
    ratio = beside / idle
    verdict = "met" if ratio <= BESIDE_GOAL else "MISSED"
    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"small merge of {SMALL_MERGE_ROWS} rows into {_count(target)}, medians of"
        f" {SMALL_MERGE_REPEATS}, an idle copy and the busy one taking turns;"
        f" load average {load_avg}",
        f"idle: {idle * 1000:.1f} ms; beside {_count(rows)} staged rows of another session:"
        f" {beside * 1000:.1f} ms = {ratio:.2f}x idle (goal <= {BESIDE_GOAL}x): {verdict}",
        f"old design (no batch_id index): idle {idle_old * 1000:.1f} ms, beside"
        f" {beside_old * 1000:.1f} ms = {beside_old / idle_old:.1f}x idle",
    ]


# -- main -------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--large", action="store_true", help="target of 10M rows instead of 1M")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--sizes", default=",".join(str(s) for s in BATCH_SIZES))
    parser.add_argument("--target", type=int, default=None, help="override N (rows stored)")
    parser.add_argument(
        "--methods",
        default=",".join(m.key for m in METHODS if m.default),
        help=f"comma-separated, from: {', '.join(m.key for m in METHODS)}",
    )
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS runs of load")
    parser.add_argument(
        "--beside-load",
        action="store_true",
        help="only time a small merge idle and beside another session's big staged batch",
    )
    parser.add_argument("--beside-rows", type=int, default=BESIDE_ROWS)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=SEED)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    target = args.target or (TARGET_ROWS_LARGE if args.large else TARGET_ROWS)
    sizes = [int(s) for s in args.sizes.split(",")]
    wanted = args.methods.split(",")
    unknown = set(wanted) - {m.key for m in METHODS}
    if unknown:
        raise SystemExit(f"unknown methods: {', '.join(sorted(unknown))}")
    methods = [m for m in METHODS if m.key in wanted]
    json_path = args.json or Path(
        "bench-results-large.json" if args.large else "bench-results.json"
    )

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    started = time.perf_counter()
    rng = random.Random(args.seed)
    universe = Universe.make(rng)
    if args.beside_load:
        return main_beside_load(universe, target, args.beside_rows, log)
    LOAD_AVAILABLE[0] = load_available()
    with bench_server() as server, tempfile.TemporaryDirectory(prefix="rtc-bench-") as tmp:
        info = server_info(server)
        log(f"PostgreSQL {info['server_version']}; building a target of {_count(target)} rows")
        t0 = time.perf_counter()
        pristine = build_template(server, universe, target)
        log(f"  target built in {time.perf_counter() - t0:.1f} s")
        if any(m.key == "django" for m in methods):
            setup_django(server.url(RUN_DB))
        results: list[Result] = []
        for size in sizes:
            work = make_workload(universe, target, size, args.seed)
            results += run_workload(server, work, pristine, methods, args.repeats, Path(tmp), log)
        rss: dict[str, object] = {}
        if not args.no_rss and any(m.key == "load" for m in methods):
            rss = measure_rss(server, universe, target, Path(tmp), log)
        server.drop(TEMPLATE_DB)

    env = environment(info)
    table = format_table(results, methods)
    verdicts = targets(results, rss)
    print()
    print(f"retweetctl merge benchmark — {env['date']}")
    print(
        f"machine: {env['machine']}; PostgreSQL {info['server_version']}"
        f" (shared_buffers {info['shared_buffers']}, work_mem {info['work_mem']},"
        f" fsync {info['fsync']}, synchronous_commit {info['synchronous_commit']});"
        f" psycopg {env['psycopg']}; Django {env['django']}; Python {env['python']}"
    )
    print(f"command: {env['command']}; medians of {args.repeats} runs")
    print()
    print(table)
    print()
    for method in methods:
        if method.note:
            print(f"- {method.title}: {method.note}")
    print(
        "- every method's final table was checked: row count and checksum equal to the expected table"
    )
    if rss:
        if "unavailable" in rss:
            print(f"- peak RSS of retweetctl load: {NOT_AVAILABLE}")
        else:
            for n in RSS_ROWS:
                fig = rss[str(n)]
                assert isinstance(fig, dict)
                print(
                    f"- peak RSS of retweetctl load, {_count(n)} CSV rows: {fig['peak_rss_bytes'] / 2**20:.0f} MiB"
                )
    print()
    print("targets:")
    for line in verdicts:
        print(f"- {line}")
    print(f"\nraw figures: {json_path}; total {time.perf_counter() - started:.0f} s")
    json_path.write_text(
        json.dumps(
            {
                "environment": env,
                "server": info,
                "target_rows": target,
                "seed": args.seed,
                "repeats": args.repeats,
                "results": [
                    {
                        "workload": r.workload,
                        "method": r.method,
                        "rows": r.rows,
                        "seconds": r.seconds,
                        "median": r.median if r.seconds else None,
                        "unavailable": r.unavailable,
                    }
                    for r in results
                ],
                "load_peak_rss": rss,
                "targets": verdicts,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


def main_beside_load(universe: Universe, target: int, rows: int, log: Callable[[str], None]) -> int:
    with bench_server() as server:
        info = server_info(server)
        log(f"PostgreSQL {info['server_version']}; building a target of {_count(target)} rows")
        build_template(server, universe, target)
        lines = bench_beside_load(server, universe, target, rows, log)
        server.drop(TEMPLATE_DB)
    env = environment(info)
    print()
    print(f"retweetctl small merge beside a load in flight — {env['date']}")
    print(f"machine: {env['machine']}; PostgreSQL {info['server_version']}")
    print(f"command: {env['command']}")
    for line in lines:
        print(f"- {line}")
    return 0


def environment(info: dict[str, str]) -> dict[str, str]:
    try:
        import django

        django_version = django.get_version()
    except ImportError:
        django_version = "not installed"
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {_cpu_model()}, Linux {platform.release()}",
        "python": platform.python_version(),
        "psycopg": f"{psycopg.__version__} ({psycopg.pq.__impl__})",
        "django": django_version,
        "postgresql": info["server_version"],
        "command": " ".join(["python", *sys.argv]) if sys.argv else "python bench/bench_merge.py",
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
