"""make bench-citus: the same work on one PostgreSQL and on Citus (coordinator + 2 workers).

Both run in this one process's run, on this one machine, from the same rows:
a target of N rows merged in batches, mixed batches (half already stored, 1%
repeated) merged into it, `retweetctl load` of a CSV, the aggregate catch-up,
`retweetctl matrix` (top-N table) and `retweetctl db check`. Each step's time on
Citus is divided by the same step's time on the single node: the ratio is what
counts. On one machine the three Citus nodes share the cores the single node has
to itself, so no speed-up is expected here (README "Citus" says how it scales).

    python bench/bench_citus.py [--target 500000] [--batch 100000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_merge import SEED, Universe, make_workload  # noqa: E402

from retweetctl.aggregate import catch_up  # noqa: E402
from retweetctl.embedded import EmbeddedServer  # noqa: E402
from retweetctl.ingest import merge_rows  # noqa: E402
from retweetctl.migrations import migrate  # noqa: E402
from tests.citus.build import ensure_citus  # noqa: E402
from tests.citus.cluster import NODE_SETTINGS, start_cluster  # noqa: E402

TARGET_ROWS = 500_000
BATCH_ROWS = 100_000
MIXED_BATCHES = 3
LOAD_ROWS = 200_000
# Citus's default: 16 shards of each table per worker here.
SHARD_COUNT = 32
DATABASE = "rtc_bench_citus"


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def timed(body: Callable[[], object]) -> float:
    start = time.perf_counter()
    body()
    return time.perf_counter() - start


def cli(url: str, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETWEETCTL_", "PG"))}
    env.update(RETWEETCTL_DATABASE_URL=url, RETWEETCTL_HOME=tempfile.mkdtemp(prefix="rtc-bh-"))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "retweetctl", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"retweetctl {' '.join(args)} failed: {done.stderr.strip()}")
    return elapsed


def run_steps(url: str, universe: Universe, target: int, batch: int, csv: Path) -> dict[str, float]:
    times: dict[str, float] = {}
    with psycopg.connect(url) as conn:
        migrate(conn)
        conn.commit()
        fill = 0.0
        for start in range(0, target, batch):
            rows = list(universe.rows(start, min(start + batch, target)))
            fill += timed(partial(merge_rows, conn, rows))
        times[f"fill: merge {target:,} new rows in batches of {batch:,}"] = fill
        mixed = 0.0
        for k in range(MIXED_BATCHES):
            work = make_workload(universe, target + k * batch, batch, SEED + k)
            mixed += timed(partial(merge_rows, conn, work.batch))
        times[f"merge {MIXED_BATCHES} mixed batches of {batch:,} (half stored, 1% repeats)"] = mixed
        times["aggregate catch-up after those"] = timed(lambda: catch_up(conn))
    times[f"retweetctl load of a {LOAD_ROWS:,}-row CSV"] = cli(url, "load", str(csv))
    times["retweetctl matrix (catch-up of the load + top-N table)"] = cli(url, "matrix")
    times["retweetctl matrix again (top-N only)"] = cli(url, "matrix")
    times["retweetctl db check (GROUP BY over retweets)"] = cli(url, "db", "check")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=int, default=TARGET_ROWS)
    parser.add_argument("--batch", type=int, default=BATCH_ROWS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    print(f"building/checking Citus ... load average {load_average()}", flush=True)
    ensure_citus()
    home = Path(tempfile.mkdtemp(prefix="rtc-bench-citus-"))
    universe = Universe.make(__import__("random").Random(SEED))
    csv = home / "load.csv"
    start = args.target + MIXED_BATCHES * args.batch
    with csv.open("w") as out:
        out.write("tweet_id,retweeter_id,author_id\n")
        for row in universe.rows(start, start + LOAD_ROWS):
            out.write(",".join(map(str, row)) + "\n")
    single = EmbeddedServer(home / "single")
    cluster = start_cluster(home / "cluster", shard_count=SHARD_COUNT)
    try:
        single.ensure_running()
        with psycopg.connect(single.url("postgres"), autocommit=True) as conn:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                conn.execute(f"ALTER SYSTEM SET {setting} = '{NODE_SETTINGS[setting]}'")
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        citus_url = cluster.create_database(DATABASE)
        results: dict[str, dict[str, float]] = {}
        print(f"single node ... load average {load_average()}", flush=True)
        results["single"] = run_steps(single.url(DATABASE), universe, args.target, args.batch, csv)
        print(f"Citus, coordinator + 2 workers ... load average {load_average()}", flush=True)
        results["citus"] = run_steps(citus_url, universe, args.target, args.batch, csv)
        finished_load = load_average()
    finally:
        single.stop()
        for node in cluster.nodes:
            node.stop()
        shutil.rmtree(home, ignore_errors=True)
    print(f"\n{'step':<70} {'single s':>9} {'citus s':>9} {'ratio':>6}")
    for step, seconds in results["single"].items():
        other = results["citus"][step]
        print(f"{step:<70} {seconds:9.2f} {other:9.2f} {other / seconds:6.2f}")
    print(f"load average at the end: {finished_load} ({os.cpu_count()} cores, {platform.node()})")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"results": results, "load_average": finished_load, "cores": os.cpu_count()},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
