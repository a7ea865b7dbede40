"""Benchmark of the matrix: the aggregate against a plain GROUP BY, and what keeping it costs a merge.

    .venv/bin/python bench/bench_matrix.py [--large] [--repeats N] [--json PATH]

Uses RETWEETCTL_DATABASE_URL's server, else the embedded one, in a scratch
database it creates and drops (`retweetctl_bench_matrix`). Reported per size
(1M rows; with --large also 10M):

- top 20 x 50 by `load_matrix` (the aggregate, after its catch-up check) and by
  one GROUP BY query over `retweets` giving the same cells;
- the full cell list (what `matrix --format edges` writes) streamed from the
  aggregate vs from a GROUP BY over `retweets`, both formatted as CSV;
- a catch-up after a 1M-row load into the table, vs that GROUP BY;

and, on 1M stored rows, a 1M-row merge (half the rows already stored) without
any aggregate (triggers disabled), with the shipped lazy deltas, and with
eager maintenance in the merge's own statement, on skewed and on uniform data.
Ratios measured in the same run are what count: the machine may be shared.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from retweetctl.aggregate import catch_up
from retweetctl.config import load_settings
from retweetctl.database import database_url
from retweetctl.ingest import Row, StagingBatch
from retweetctl.matrix import MatrixQuery, edges, load_matrix
from retweetctl.migrations import migrate
from retweetctl.report import edges_lines

Connection = psycopg.Connection[tuple[object, ...]]

SEED = 20261127
BENCH_DB = "retweetctl_bench_matrix"
SIZES = (1_000_000,)
SIZES_LARGE = (1_000_000, 10_000_000)
LOAD_ROWS = 1_000_000
# A small batch, as one fetch brings: its catch-up must stay cheap however large the table.
SMALL_LOAD_ROWS = 100
MERGE_ROWS = 1_000_000
# Half of a merged batch is already stored, as in the team's merge measurements.
MERGE_REPEATED = 0.5
AUTHORS = 10_000
# Skew: author = AUTHORS * u^AUTHOR_SKEW (a few authors get most retweets);
# retweeter = rows/2 * u^RETWEETER_SKEW (a core retweets a lot, most retweet once).
AUTHOR_SKEW = 6
RETWEETER_SKEW = 3
TOP_AUTHORS, TOP_RETWEETERS = 20, 50
DEFAULT_REPEATS = 3
DEFAULT_JSON = Path("bench/results/bench_matrix.json")

TRIGGERS = ("retweets_aggregate_insert", "retweets_aggregate_delete", "retweets_aggregate_update")

# Built on the server: far faster than sending 10M rows. Tweet ids are unique,
# so every row is new; the skew matches skewed_rows() below.
GENERATE_SKEWED = """
INSERT INTO retweets (tweet_id, retweeter_id, author_id)
SELECT %(first)s + i,
       1 + floor(%(retweeters)s * power(random(), %(retweeter_skew)s))::bigint,
       1 + floor(%(authors)s * power(random(), %(author_skew)s))::bigint
FROM generate_series(0, %(rows)s - 1) AS i
"""
REBUILD_AGGREGATE = """
TRUNCATE retweet_cell_deltas, retweet_cells, retweet_author_totals, retweet_retweeter_totals,
    retweet_retweeter_ranks;
INSERT INTO retweet_cells (retweeter_id, author_id, n)
SELECT retweeter_id, author_id, count(*) FROM retweets GROUP BY 1, 2 ORDER BY 1, 2;
INSERT INTO retweet_author_totals SELECT author_id, sum(n) FROM retweet_cells GROUP BY 1;
INSERT INTO retweet_retweeter_totals SELECT retweeter_id, sum(n) FROM retweet_cells GROUP BY 1;
INSERT INTO retweet_retweeter_ranks
SELECT retweeter_id, total FROM retweet_retweeter_totals ORDER BY total DESC, retweeter_id LIMIT 10000;
UPDATE retweet_aggregate_sizes SET
    authors = (SELECT count(*) FROM retweet_author_totals),
    retweeters = (SELECT count(*) FROM retweet_retweeter_totals),
    cells = (SELECT count(*) FROM retweet_cells);
"""
# The same top 20 x 50 cells by GROUP BY over every row.
TOP_BY_GROUP_BY = """
WITH a AS (
    SELECT author_id FROM retweets GROUP BY author_id ORDER BY count(*) DESC, author_id LIMIT %(a)s
), r AS (
    SELECT retweeter_id FROM retweets GROUP BY retweeter_id
    ORDER BY count(*) DESC, retweeter_id LIMIT %(r)s
)
SELECT retweeter_id, author_id, count(*) FROM retweets
WHERE author_id IN (SELECT author_id FROM a) AND retweeter_id IN (SELECT retweeter_id FROM r)
GROUP BY retweeter_id, author_id
"""
# The GROUP BY alone, on the server, nothing sent: the yardstick for a catch-up.
GROUP_BY_ONLY = """
SELECT count(*) FROM (SELECT retweeter_id, author_id, count(*) FROM retweets GROUP BY 1, 2) AS g
"""
ALL_CELLS_BY_GROUP_BY = """
SELECT g.retweeter_id, r.username, g.author_id, a.username, g.n
FROM (SELECT retweeter_id, author_id, count(*) AS n FROM retweets GROUP BY 1, 2) AS g
LEFT JOIN users AS r ON r.id = g.retweeter_id
LEFT JOIN users AS a ON a.id = g.author_id
ORDER BY g.retweeter_id, g.author_id
"""
# Eager maintenance, measured to justify the lazy design: the merge statement
# itself upserts cells and totals from the rows it inserted.
EAGER_MERGE = """
WITH inserted AS (
    INSERT INTO retweets (tweet_id, retweeter_id, author_id)
    SELECT tweet_id, retweeter_id, author_id FROM retweet_staging
    WHERE batch_id = %(batch_id)s ORDER BY tweet_id, retweeter_id
    ON CONFLICT (tweet_id, retweeter_id) DO NOTHING
    RETURNING retweeter_id, author_id
), changes AS (
    SELECT retweeter_id, author_id, count(*) AS n FROM inserted GROUP BY 1, 2
), cells AS (
    INSERT INTO retweet_cells AS c (retweeter_id, author_id, n)
    SELECT retweeter_id, author_id, n FROM changes ORDER BY 1, 2
    ON CONFLICT (retweeter_id, author_id) DO UPDATE SET n = c.n + EXCLUDED.n
    RETURNING (c.xmax = 0) AS created
), authors AS (
    INSERT INTO retweet_author_totals AS t (author_id, total)
    SELECT author_id, sum(n) FROM changes GROUP BY 1 ORDER BY 1
    ON CONFLICT (author_id) DO UPDATE SET total = t.total + EXCLUDED.total
    RETURNING (t.xmax = 0) AS created
), retweeters AS (
    INSERT INTO retweet_retweeter_totals AS t (retweeter_id, total)
    SELECT retweeter_id, sum(n) FROM changes GROUP BY 1 ORDER BY 1
    ON CONFLICT (retweeter_id) DO UPDATE SET total = t.total + EXCLUDED.total
    RETURNING (t.xmax = 0) AS created
)
UPDATE retweet_aggregate_sizes SET
    cells = cells + (SELECT count(*) FROM cells WHERE created),
    authors = authors + (SELECT count(*) FROM authors WHERE created),
    retweeters = retweeters + (SELECT count(*) FROM retweeters WHERE created)
"""


# -- data ---------------------------------------------------------------------


def skewed_rows(rng: random.Random, first_tweet: int, count: int, retweeters: int) -> list[Row]:
    return [
        (
            first_tweet + i,
            1 + int(retweeters * rng.random() ** RETWEETER_SKEW),
            1 + int(AUTHORS * rng.random() ** AUTHOR_SKEW),
        )
        for i in range(count)
    ]


def uniform_rows(rng: random.Random, first_tweet: int, count: int, retweeters: int) -> list[Row]:
    return [
        (first_tweet + i, rng.randint(1, retweeters), rng.randint(1, AUTHORS)) for i in range(count)
    ]


# -- database -----------------------------------------------------------------


def server_url() -> str:
    return database_url(load_settings())


def with_dbname(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]


@contextlib.contextmanager
def scratch_database(url: str) -> Iterator[str]:
    admin = with_dbname(url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    target = with_dbname(url, BENCH_DB)
    with psycopg.connect(target) as conn:
        migrate(conn)
    try:
        yield target
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def set_triggers(conn: Connection, enabled: bool) -> None:
    verb = "ENABLE" if enabled else "DISABLE"
    for trigger in TRIGGERS:
        conn.execute(f"ALTER TABLE retweets {verb} TRIGGER {trigger}")
    conn.commit()


def reset(conn: Connection) -> None:
    conn.execute("TRUNCATE retweets")  # the TRUNCATE trigger empties the aggregate too
    conn.commit()


def copy_rows(conn: Connection, rows: Sequence[Row]) -> None:
    """Load rows with the triggers off, then build the aggregate with one GROUP BY."""
    set_triggers(conn, False)
    with conn.transaction():
        batch = StagingBatch(conn)
        batch.copy(rows)
        batch.merge()
    set_triggers(conn, True)
    rebuild(conn)


def generated(first: int, rows: int, retweeters: int, shape: str) -> dict[str, int]:
    """GENERATE_SKEWED's parameters; uniform data is the same with exponents of 1."""
    skewed = shape == "skewed"
    return {
        "first": first,
        "rows": rows,
        "retweeters": retweeters,
        "authors": AUTHORS,
        "retweeter_skew": RETWEETER_SKEW if skewed else 1,
        "author_skew": AUTHOR_SKEW if skewed else 1,
    }


def generate(conn: Connection, rows: int, first: int = 0, shape: str = "skewed") -> None:
    set_triggers(conn, False)
    conn.execute("SELECT setseed(0.5)")
    conn.execute(GENERATE_SKEWED, generated(first + 1, rows, rows // 2, shape))
    conn.commit()
    set_triggers(conn, True)
    rebuild(conn)


def rebuild(conn: Connection) -> None:
    conn.execute(REBUILD_AGGREGATE)
    conn.commit()
    vacuum(conn)


def vacuum(conn: Connection) -> None:
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    conn.autocommit = False


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def best(repeats: int, action: Callable[[], object]) -> float:
    """The median of `repeats` runs (one warm-up first, as a user's second run would be)."""
    action()
    return statistics.median(timed(action) for _ in range(repeats))


def drain(lines: Iterator[str]) -> int:
    sink = io.StringIO()
    written = 0
    for line in lines:
        written += len(line)
        if sink.tell() > 1 << 20:
            sink.seek(0)
            sink.truncate()
        sink.write(line)
    return written


# -- measurements -------------------------------------------------------------


def measure_reads(url: str, rows: int, repeats: int, shape: str = "skewed") -> dict[str, object]:
    with psycopg.connect(url) as conn:
        reset(conn)
        build = timed(lambda: generate(conn, rows, shape=shape))
        cells = int(conn.execute("SELECT cells FROM retweet_aggregate_sizes").fetchone()[0])  # type: ignore[index]
        conn.commit()
        query = MatrixQuery(top_authors=TOP_AUTHORS, top_retweeters=TOP_RETWEETERS)
        top_aggregate = best(repeats, lambda: load_matrix(conn, query))
        top_group_by = best(
            repeats,
            lambda: (
                conn.execute(TOP_BY_GROUP_BY, {"a": TOP_AUTHORS, "r": TOP_RETWEETERS}).fetchall()
                and conn.rollback()
            ),
        )
        all_aggregate = best(1, lambda: drain(edges_lines(edges(conn, MatrixQuery()))))
        all_group_by = best(1, lambda: drain(edges_lines(group_by_edges(conn))))
        group_by_only = best(1, lambda: (conn.execute(GROUP_BY_ONLY).fetchone(), conn.commit()))
        load_rows = min(LOAD_ROWS, rows)
        set_triggers(conn, True)
        conn.execute("SELECT setseed(0.25)")
        load_seconds = timed(
            lambda: (
                conn.execute(GENERATE_SKEWED, generated(rows + 1, load_rows, rows // 2, shape)),
                conn.commit(),
            )
        )
        # What `retweetctl load` now does at its end, in its own transaction...
        catch_up_seconds = timed(lambda: catch_up(conn))
        # ...so the first `matrix` after it only reads.
        first_matrix = timed(lambda: load_matrix(conn, query))
        group_by_after = best(1, lambda: (conn.execute(GROUP_BY_ONLY).fetchone(), conn.commit()))
        small_catch_ups = []
        for batch in range(repeats + 2):
            first = rows + load_rows + batch * SMALL_LOAD_ROWS + 1
            conn.execute(GENERATE_SKEWED, generated(first, SMALL_LOAD_ROWS, rows // 2, shape))
            conn.commit()
            small_catch_ups.append(timed(lambda: catch_up(conn)))
        return {
            "data": shape,
            "rows": rows,
            "cells": cells,
            "build_s": build,
            "top_aggregate_s": top_aggregate,
            "top_group_by_s": top_group_by,
            "top_speedup": top_group_by / top_aggregate,
            "all_cells_aggregate_s": all_aggregate,
            "all_cells_group_by_s": all_group_by,
            "all_cells_speedup": all_group_by / all_aggregate,
            "load_rows": load_rows,
            "load_with_deltas_s": load_seconds,
            "catch_up_after_load_s": catch_up_seconds,
            "group_by_only_s": group_by_only,
            "catch_up_vs_group_by": catch_up_seconds / group_by_only,
            "group_by_after_load_s": group_by_after,
            "catch_up_vs_group_by_after_load": catch_up_seconds / group_by_after,
            "first_matrix_after_load_s": first_matrix,
            "catch_up_small_rows": SMALL_LOAD_ROWS,
            "catch_up_small_s": statistics.median(small_catch_ups),
            "first_matrix_vs_group_by": first_matrix / group_by_only,
        }


def group_by_edges(conn: Connection) -> Iterator[object]:
    from retweetctl.matrix import Edge

    with conn.transaction(), conn.cursor(name="bench_group_by") as cursor:
        cursor.itersize = 10_000
        cursor.execute(ALL_CELLS_BY_GROUP_BY)
        for r, rn, a, an, n in cursor:
            yield Edge(r, rn, a, an, n)  # type: ignore[arg-type]


def merge_once(conn: Connection, rows: Sequence[Row], mode: str) -> float:
    """Copy + merge + commit of one batch; mode is none, lazy or eager."""
    set_triggers(conn, mode == "lazy")
    start = time.perf_counter()
    with conn.transaction():
        batch = StagingBatch(conn)
        batch.copy(rows)
        if mode == "eager":
            conn.execute(EAGER_MERGE, {"batch_id": batch.batch_id})
            conn.execute("DELETE FROM retweet_staging WHERE batch_id = %s", (batch.batch_id,))
        else:
            batch.merge()
    elapsed = time.perf_counter() - start
    set_triggers(conn, True)
    return elapsed


def measure_merges(url: str, repeats: int, merge_rows: int) -> list[dict[str, object]]:
    """merge_rows stored, then merge_rows merged of which half are stored already."""
    results: list[dict[str, object]] = []
    for shape, make in (("skewed", skewed_rows), ("uniform", uniform_rows)):
        rng = random.Random(SEED)
        retweeters = merge_rows // 2
        base = make(rng, 1, merge_rows, retweeters)
        repeated = rng.sample(base, int(merge_rows * MERGE_REPEATED))
        fresh = make(rng, merge_rows + 1, merge_rows - len(repeated), retweeters)
        batch = sorted(repeated + fresh, key=lambda _: rng.random())
        seconds: dict[str, list[float]] = {"none": [], "lazy": [], "eager": []}
        catch_ups: list[float] = []
        with psycopg.connect(url) as conn:
            for _ in range(repeats):
                for mode in ("none", "lazy", "eager"):
                    reset(conn)
                    copy_rows(conn, base)
                    seconds[mode].append(merge_once(conn, batch, mode))
                    if mode == "lazy":
                        catch_ups.append(timed(lambda: catch_up(conn)))
        plain = statistics.median(seconds["none"])
        results.append(
            {
                "data": shape,
                "base_rows": merge_rows,
                "merged_rows": merge_rows,
                "no_aggregate_s": plain,
                "lazy_s": statistics.median(seconds["lazy"]),
                "eager_s": statistics.median(seconds["eager"]),
                "lazy_ratio": statistics.median(seconds["lazy"]) / plain,
                "eager_ratio": statistics.median(seconds["eager"]) / plain,
                "catch_up_s": statistics.median(catch_ups),
                "runs": seconds,
            }
        )
    return results


# -- report -------------------------------------------------------------------


def print_report(reads: list[dict[str, Any]], merges: list[dict[str, object]]) -> None:
    print(
        "\nmatrix reads (median seconds; speedup = GROUP BY / aggregate; catch-up after a"
        " 1M-row load, which `load` does at its end; first matrix after it; GB after = GROUP BY"
        " of the loaded table; ratio = catch-up / GB after; small = catch-up of a 100-row load)"
    )
    print(
        f"{'data':>8} {'rows':>11} {'cells':>11} {'top agg':>9} {'top GB':>9} {'speedup':>9}"
        f" {'all agg':>9} {'all GB':>9} {'speedup':>8} {'GB only':>8} {'catch-up':>9}"
        f" {'GB after':>9} {'ratio':>6} {'1st matrix':>10} {'small':>8}"
    )
    for r in reads:
        print(
            f"{r['data']:>8} {int(r['rows']):>11,} {int(r['cells']):>11,} {r['top_aggregate_s']:>9.4f}"
            f" {r['top_group_by_s']:>9.3f} {r['top_speedup']:>8.0f}x"
            f" {r['all_cells_aggregate_s']:>9.2f} {r['all_cells_group_by_s']:>9.2f}"
            f" {r['all_cells_speedup']:>7.1f}x {r['group_by_only_s']:>8.2f}"
            f" {r['catch_up_after_load_s']:>8.2f}s {r['group_by_after_load_s']:>8.2f}s"
            f" {r['catch_up_vs_group_by_after_load']:>5.2f}x"
            f" {r['first_matrix_after_load_s']:>9.4f}s {r['catch_up_small_s']:>7.4f}s"
        )
    print("\n1M-row merge into 1M stored rows, half already stored (median seconds)")
    print(
        f"{'data':>8} {'no agg':>8} {'lazy':>8} {'ratio':>7} {'eager':>8} {'ratio':>7} {'catch-up':>9}"
    )
    for m in merges:
        print(
            f"{m['data']:>8} {m['no_aggregate_s']:>8.2f} {m['lazy_s']:>8.2f}"
            f" {m['lazy_ratio']:>6.2f}x {m['eager_s']:>8.2f} {m['eager_ratio']:>6.2f}x"
            f" {m['catch_up_s']:>8.2f}s"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--large", action="store_true", help="also 10M rows")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--skip-merge", action="store_true", help="only the read figures")
    parser.add_argument("--sizes", help="comma-separated table sizes instead of 1M (and 10M)")
    parser.add_argument("--shapes", default="skewed,uniform", help="data shapes for the reads")
    parser.add_argument("--merge-rows", type=int, default=MERGE_ROWS, help="rows stored and merged")
    args = parser.parse_args(argv)
    sizes = SIZES_LARGE if args.large else SIZES
    if args.sizes:
        sizes = tuple(int(size) for size in args.sizes.split(","))
    started = datetime.datetime.now(datetime.UTC)
    with scratch_database(server_url()) as url:
        with psycopg.connect(url) as conn:
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        reads = []
        for rows in sizes:
            for shape in args.shapes.split(","):
                print(f"reads on {rows:,} {shape} rows…", file=sys.stderr, flush=True)
                reads.append(measure_reads(url, rows, args.repeats, shape))
        merges = []
        if not args.skip_merge:
            print("merges…", file=sys.stderr, flush=True)
            merges = measure_merges(url, args.repeats, args.merge_rows)
    print_report(reads, merges)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "command": " ".join(["bench/bench_matrix.py", *(argv or sys.argv[1:])]),
                "python": platform.python_version(),
                "postgresql": version,
                "reads": reads,
                "merges": merges,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
