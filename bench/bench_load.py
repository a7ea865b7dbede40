"""make bench (load): `retweetctl load` on a realistic twarc2 archive against the jq pipeline.

The archive is the real captures in tests/data/twarc/ (raw API pages, as twarc2
writes them) repeated until it reaches the size asked for, every id in copy k
shifted by k * 2**40 so that copies are distinct retweets, as a long collection
is. Every method starts from an empty database on the same server, in the same
run; only ratios within one run mean anything on a shared machine, so the load
average is printed beside them.

    python bench/bench_load.py [--size-mb 1024] [--large] [--keep DIR] [--json out.json]

--large adds a 10 GB archive (retweetctl only: peak RSS flat from 1 GB to 10 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from bench_merge import NOT_AVAILABLE, Server, bench_server, retweetctl_exe, server_info

from retweetctl.migrations import migrate

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "tests" / "data" / "twarc"
# flat.jsonl is noflat.jsonl run through `twarc2 flatten`: not what twarc2 writes while collecting.
SKIP_CAPTURES = ("flat.jsonl",)
SIZE_MB = 1024
LARGE_SIZE_MB = 10 * 1024
# The archive also loaded as this many files in one command (what a collection split
# by day looks like): the next file parses while the server merges the one before.
SPLIT_PARTS = 8
# Copy k of the captures adds k * ID_SHIFT to every id: far above any two ids' difference
# in one capture, and 10 GB of copies (~2,600) stay below 2**63.
ID_SHIFT = 1 << 40
# A JSON string of digits (tweet and user ids; twarc writes ids as strings).
ID_TEXT = re.compile(rb'"([0-9]{6,19})"')
EMPTY_DB = "rtc_load_empty"
RUN_DB = "rtc_load_run"
# The triples of the retweets in a page whose original is in includes, one TSV line each.
JQ_PROGRAM = (
    "(.includes.tweets // [] | map({key: .id, value: .author_id}) | from_entries) as $a"
    ' | (.data // [] | if type == "array" then .[] else . end)'
    " | .author_id as $u | (.referenced_tweets // [])[]"
    ' | select(.type == "retweeted" and $a[.id] != null) | [.id, $u, $a[.id]] | @tsv'
)
JQ_TABLE = (
    "CREATE TABLE jq_retweets (tweet_id bigint, retweeter_id bigint, author_id bigint,"
    " PRIMARY KEY (tweet_id, retweeter_id))"
)
# Peak RSS of the command alone (see bench_merge._RSS_TRAMPOLINE): the largest of the
# process and the children it waited for (the parse workers), in KiB.
_RSS_TRAMPOLINE = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp("sh", ["sh", "-c", sys.argv[1]])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"\\nRTC-BENCH-MAXRSS-KIB {usage.ru_maxrss}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


# -- the archive ------------------------------------------------------------


def capture_parts() -> list[tuple[list[bytes], list[int]]]:
    """Each capture file as its text between ids and its ids, so a copy is one join."""
    parts = []
    for path in sorted(CAPTURES.glob("*.jsonl")):
        if path.name in SKIP_CAPTURES:
            continue
        pieces = ID_TEXT.split(path.read_bytes())
        parts.append((pieces[0::2], [int(i) for i in pieces[1::2]]))
    return parts


def copy_of(texts: list[bytes], ids: list[int], k: int) -> bytes:
    shift = k * ID_SHIFT
    out = [texts[0]]
    for text, number in zip(texts[1:], ids, strict=True):
        out.append(b'"%d"' % (number + shift))
        out.append(text)
    return b"".join(out)


def make_archive(path: Path, size_mb: int, log: Callable[[str], None]) -> None:
    if path.exists() and path.stat().st_size >= size_mb << 20:
        return
    log(f"  writing {path.name} ({size_mb:,} MB of twarc2 pages)…")
    parts = capture_parts()
    written = 0
    k = 0
    with open(f"{path}.part", "wb") as out:
        while written < size_mb << 20:
            for texts, ids in parts:
                data = copy_of(texts, ids, k)
                out.write(data)
                written += len(data)
            k += 1
    os.replace(f"{path}.part", path)


def split_archive(plain: Path, parts: int, log: Callable[[str], None]) -> Path:
    """The archive cut into `parts` files at line ends (a collection split by day, say),
    in a directory of their own: part-01.jsonl, part-02.jsonl…"""
    directory = plain.with_name(f"{plain.stem}-in-{parts}")
    if directory.is_dir():
        return directory
    log(f"  splitting {plain.name} into {parts} files…")
    work = directory.with_name(directory.name + ".part")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    share = plain.stat().st_size // parts + 1
    with plain.open("rb") as source:
        for number in range(1, parts + 1):
            with (work / f"part-{number:02d}.jsonl").open("wb") as out:
                out.write(source.read(share))
                out.write(source.readline())  # to the end of the line cut
    os.replace(work, directory)
    return directory


def gzip_archive(plain: Path, log: Callable[[str], None]) -> Path:
    packed = plain.with_name(plain.name + ".gz")
    if not packed.exists():
        log(f"  gzip -6 {plain.name}…")
        with open(f"{packed}.part", "wb") as out:
            subprocess.run(["gzip", "-6", "-c", str(plain)], stdout=out, check=True)
        os.replace(f"{packed}.part", packed)
    return packed


# -- methods ----------------------------------------------------------------


@dataclass
class Run:
    method: str
    input: str
    seconds: float
    rss_bytes: int
    rows: int
    mb: float  # uncompressed MB of the input
    # rows whose author came from the retweet's `RT @name:` text (the jq pipeline has none)
    from_mention: int = 0

    @property
    def mb_per_s(self) -> float:
        return self.mb / self.seconds


def timed_shell(command: str, env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of `sh -c command`."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _RSS_TRAMPOLINE, command],
        env=env,
        capture_output=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    seconds = time.perf_counter() - start
    err = done.stderr.decode(errors="replace")
    marker = "RTC-BENCH-MAXRSS-KIB "
    if done.returncode != 0 or marker not in err:
        raise RuntimeError(f"{command!r} exited {done.returncode}: {err.split(marker)[0].strip()}")
    return seconds, int(err.rsplit(marker, 1)[1].split()[0]) * 1024


def fresh_database(server: Server) -> str:
    server.clone(EMPTY_DB, RUN_DB)
    return server.url(RUN_DB)


def count_rows(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - constant
    assert row is not None
    return int(row[0])


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("RETWEETCTL_", "PG"))}


def m_cat(server: Server, path: Path, mb: float) -> Run:
    seconds, rss = timed_shell(f"cat {path} > /dev/null", clean_env())
    return Run("cat (floor)", path.name, seconds, rss, 0, mb)


def m_jq(server: Server, path: Path, mb: float) -> Run:
    url = fresh_database(server)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(JQ_TABLE)
    reader = "zcat" if path.suffix == ".gz" else "cat"
    command = (
        f"{reader} {path} | jq -r '{JQ_PROGRAM}' | LC_ALL=C sort -u"
        f" | psql -q -v ON_ERROR_STOP=1 {shlex.quote(url)} -c '\\copy jq_retweets FROM STDIN'"
    )
    seconds, rss = timed_shell(command, clean_env())
    return Run(
        "jq \\| sort -u \\| psql \\copy",
        path.name,
        seconds,
        rss,
        count_rows(url, "jq_retweets"),
        mb,
    )


def load_method(label: str, workers: int | None = None) -> Callable[[Server, Path, float], Run]:
    def run(server: Server, path: Path, mb: float) -> Run:
        url = fresh_database(server)
        env = clean_env()
        env.update(RETWEETCTL_DATABASE_URL=url, RETWEETCTL_HOME=str(server.home))
        if workers is not None:
            env["RETWEETCTL_LOAD_WORKERS"] = str(workers)
        # a directory: its files (the archive split), loaded by one command
        inputs = f"{path}/part-*.jsonl" if path.is_dir() else str(path)
        seconds, rss = timed_shell(f"{retweetctl_exe()} load --quiet {inputs}", env)
        rows = count_rows(url, "retweets")
        mention = count_rows(url, "retweets WHERE author_from_mention")
        return Run(label, path.name, seconds, rss, rows, mb, mention)

    return run


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def table(runs: Sequence[Run], baseline: Run | None) -> str:
    lines = [
        "| method | input | seconds | MB/s (uncompressed) | x jq | peak RSS MiB | rows |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        ratio = f"{r.seconds / baseline.seconds:.2f}" if baseline is not None else "-"
        lines.append(
            f"| {r.method} | {r.input} | {r.seconds:.1f} | {r.mb_per_s:,.0f} | {ratio}"
            f" | {r.rss_bytes / 2**20:,.0f} | {r.rows:,} |"
        )
    return "\n".join(lines)


def goals(runs: dict[str, Run], large: Run | None) -> list[str]:
    out = []
    plain, gz, jq = runs.get("plain"), runs.get("gzip"), runs.get("jq")
    if plain is not None:
        ok = plain.mb_per_s >= 200
        out.append(f"load {plain.mb_per_s:,.0f} MB/s uncompressed (goal >= 200): {_met(ok)}")
    if plain is not None and jq is not None:
        ratio = plain.seconds / jq.seconds
        out.append(f"load / jq pipeline time: {ratio:.2f} (goal <= 0.15): {_met(ratio <= 0.15)}")
        from_includes = plain.rows - plain.from_mention
        if from_includes != jq.rows:
            out.append(
                f"ROWS DIFFER: load stored {from_includes:,} from includes, the jq pipeline {jq.rows:,}"
            )
        if plain.from_mention:
            out.append(
                f"load also stored {plain.from_mention:,} rows attributed from the RT mention"
                " (originals missing from includes; the jq pipeline drops them)"
            )
    if plain is not None and gz is not None:
        ratio = gz.seconds / plain.seconds
        out.append(f"gzip / plain time: {ratio:.2f} (goal <= 1.5): {_met(ratio <= 1.5)}")
    if plain is not None and large is not None:
        ratio = large.rss_bytes / plain.rss_bytes
        out.append(f"peak RSS 10 GB / 1 GB: {ratio:.2f} (goal <= 1.2): {_met(ratio <= 1.2)}")
    return out


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=SIZE_MB)
    parser.add_argument("--large", action="store_true", help="also a 10 GB archive (RSS)")
    parser.add_argument("--keep", type=Path, help="keep the generated archives in this directory")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    if shutil.which("jq") is None:
        log(f"jq: {NOT_AVAILABLE} (apt-get install jq); the pipeline is left out")
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="rtc-bench-load-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        plain = scratch / f"archive-{args.size_mb}MB.jsonl"
        make_archive(plain, args.size_mb, log)
        packed = gzip_archive(plain, log)
        split = split_archive(plain, SPLIT_PARTS, log)
        mb = plain.stat().st_size / 1e6
        with bench_server() as server:
            with server.admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{EMPTY_DB}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{EMPTY_DB}"')
            with psycopg.connect(server.url(EMPTY_DB)) as conn:
                migrate(conn)
            log(f"server: {json.dumps(server_info(server))}")
            methods: list[tuple[str, Callable[[Server, Path, float], Run], Path]] = [
                ("cat", m_cat, plain),
                ("plain", load_method("retweetctl load"), plain),
                ("gzip", load_method("retweetctl load"), packed),
                ("serial", load_method("retweetctl load, 1 process", workers=1), plain),
                ("workers", load_method("retweetctl load, 2 workers", workers=2), plain),
                ("split", load_method(f"retweetctl load, {SPLIT_PARTS} files"), split),
            ]
            if shutil.which("jq") is not None:
                methods.insert(1, ("jq", m_jq, plain))
            runs: dict[str, Run] = {}
            for key, method, path in methods:
                log(f"  {key} on {path.name} (load average {load_average()})…")
                runs[key] = method(server, path, mb)
                log(f"    {runs[key].seconds:.1f} s, {runs[key].rss_bytes / 2**20:,.0f} MiB")
            large = None
            if args.large:
                big = scratch / f"archive-{LARGE_SIZE_MB}MB.jsonl"
                make_archive(big, LARGE_SIZE_MB, log)
                log(f"  plain on {big.name} (load average {load_average()})…")
                large = load_method("retweetctl load")(server, big, big.stat().st_size / 1e6)
            server.drop(RUN_DB)
            server.drop(EMPTY_DB)
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    ordered = list(runs.values()) + ([large] if large is not None else [])
    print(f"\n## load: {mb:,.0f} MB twarc2 archive, load average {load_average()}\n")
    print(table(ordered, runs.get("jq")))
    print()
    for line in goals(runs, large):
        print(f"- {line}")
    if args.json is not None:
        payload = {
            "load_average": load_average(),
            "runs": [r.__dict__ | {"mb_per_s": r.mb_per_s} for r in ordered],
            "goals": goals(runs, large),
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
