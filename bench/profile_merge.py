"""Where a merge's time goes: each step of StagingBatch timed apart, with the INSERT's plan.

    python bench/profile_merge.py [--target 1000000] [--size 1000000] [--work-mem 64MB] [--explain]

Runs the library's own steps (StagingBatch.__init__, copy, merge) on a fresh
copy of the target, timing COPY, the INSERT … ON CONFLICT, the DELETE of the
staged rows and the commit separately; with --explain the INSERT runs under
EXPLAIN (ANALYZE, BUFFERS, WAL) instead, showing sort method and index work.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg
import psycopg.sql
from bench_merge import (
    RUN_DB,
    SEED,
    TEMPLATE_DB,
    Universe,
    bench_server,
    build_template,
    make_workload,
)

from retweetctl.ingest import StagingBatch
from retweetctl.queries import load


class Steps:
    """Seconds between successive marks."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []
        self.mark = time.perf_counter()

    def step(self, name: str) -> None:
        now = time.perf_counter()
        self.times.append((name, now - self.mark))
        self.mark = now


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--target", type=int, default=1_000_000)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--work-mem", default=None, help="SET LOCAL work_mem before the merge")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--sql", default=None, help="a file holding another merge statement")
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE: SET LOCAL")
    args = parser.parse_args(argv)
    universe = Universe.make(random.Random(SEED))
    with bench_server() as server:
        build_template(server, universe, args.target)
        work = make_workload(universe, args.target, args.size, SEED)
        for _ in range(args.repeats):
            server.clone(TEMPLATE_DB, RUN_DB)
            with psycopg.connect(server.url(RUN_DB)) as conn:
                steps = Steps()
                step = steps.step

                with conn.transaction():
                    if args.work_mem:
                        conn.execute(f"SET LOCAL work_mem = '{args.work_mem}'")
                    for setting in args.set:
                        name, value = setting.split("=", 1)
                        conn.execute(f"SET LOCAL {name} = '{value}'")
                    batch = StagingBatch(conn)
                    step("init")
                    batch.copy(work.batch)
                    step("copy")
                    sql = (
                        psycopg.sql.SQL(Path(args.sql).read_text())
                        if args.sql
                        else load("merge_staged")
                    )
                    if args.explain:
                        plan = conn.execute(
                            psycopg.sql.SQL("EXPLAIN (ANALYZE, BUFFERS, WAL) ") + sql,
                            {"batch_id": batch.batch_id},
                        ).fetchall()
                        step("insert (explain analyze)")
                        print("\n".join(str(r[0]) for r in plan))
                    else:
                        conn.execute(sql, {"batch_id": batch.batch_id})
                        step("insert")
                    conn.execute(
                        "DELETE FROM retweet_staging WHERE batch_id = %s", (batch.batch_id,)
                    )
                    step("delete staged")
                step("commit")
            print("  ".join(f"{name} {seconds:.2f}s" for name, seconds in steps.times))
        server.drop(RUN_DB)
        server.drop(TEMPLATE_DB)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
