"""How fast retweetctl starts: `--version`, `--help`, and `matrix` on a small embedded database.

    .venv/bin/python bench/bench_startup.py [--runs N] [--json PATH]

Medians of N runs of each command as a user runs it (a new process each time),
next to two baselines measured in the same run: the bare interpreter
(`python -c pass`) and importing every command module eagerly (what every
command cost before the commands were imported lazily). The matrix runs
against an embedded server in a scratch RETWEETCTL_HOME, started beforehand
(its first start is not what is measured). Then `python -X importtime` shows
where the time of `--help` and `matrix` goes (largest cumulative imports).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

DEFAULT_RUNS = 11
DEFAULT_JSON = Path("bench/results/bench_startup.json")
EAGER_IMPORTS = (
    "import retweetctl.cli, retweetctl.commands.db, retweetctl.commands.fetch,"
    " retweetctl.commands.load, retweetctl.commands.matrix, retweetctl.commands.watch"
)
TOP_IMPORTS = 8
# The goals of issue 11, on a quiet machine.
GOALS = {"--version": 0.25, "--help": 0.25, "matrix": 0.5}


def median_seconds(command: list[str], env: dict[str, str], runs: int) -> float:
    subprocess.run(command, env=env, capture_output=True, check=True)  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def top_imports(command: list[str], env: dict[str, str]) -> list[tuple[str, float]]:
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", *command], env=env, capture_output=True, text=True
    )
    rows = []
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        if not name.startswith("  "):  # top-level imports only (one space of indent)
            rows.append((name.strip(), int(cumulative) / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:TOP_IMPORTS]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="rtc-startup-"))
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RETWEETCTL_", "PG", "X_", "TWITTER_"))
    }
    env["RETWEETCTL_HOME"] = str(home / "home")
    cli = [sys.executable, "-m", "retweetctl"]
    try:
        url = subprocess.run(
            [*cli, "db", "url"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        with psycopg.connect(url) as conn:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from tests.matrix_data import fill

            fill(conn)
        results = {
            "python -c pass": median_seconds([sys.executable, "-c", "pass"], env, args.runs),
            "every command module imported": median_seconds(
                [sys.executable, "-c", EAGER_IMPORTS], env, args.runs
            ),
            "--version": median_seconds([*cli, "--version"], env, args.runs),
            "--help": median_seconds([*cli, "--help"], env, args.runs),
            "matrix": median_seconds([*cli, "matrix"], env, args.runs),
        }
        imports = {
            "--help": top_imports(["-m", "retweetctl", "--help"], env),
            "matrix": top_imports(["-m", "retweetctl", "matrix"], env),
        }
        subprocess.run([*cli, "db", "stop"], env=env, capture_output=True, check=False)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    load = os.getloadavg()
    print(f"start-up, median of {args.runs} runs (load average {load[0]:.2f}):")
    for name, seconds in results.items():
        goal = f"  (goal {GOALS[name]:.2f} s)" if name in GOALS else ""
        print(f"  {name:<32} {seconds:6.3f} s{goal}")
    for name, rows in imports.items():
        print(f"largest imports of `retweetctl {name}` (cumulative, python -X importtime):")
        for module, seconds in rows:
            print(f"  {module:<32} {seconds:6.3f} s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {"runs": args.runs, "load_average": load, "seconds": results, "imports": imports},
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
