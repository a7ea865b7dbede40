"""make bench: decoding twarc2 JSONL, the standard library against msgspec (and orjson).

The data is realistic: the real captures in tests/data/twarc/ (API pages of about
4 KB a tweet with their includes, and flattened tweets), repeated until the
wanted size with every id shifted per copy so copies are distinct. Each decoder
reads the same lines in memory, no database, and its rows are checked against
the standard library's. Ratios within one run are what count: the machine may
be shared (the load average is printed with the figures).

    python bench/bench_decode.py [--mb 200] [--repeats 3] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from retweetctl.readers.fast import parse_fast
from retweetctl.readers.jsonl import (
    parse_block,
    parse_json_line_reference,
    parse_object,
)

CAPTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "twarc"
# The ids of a copy are shifted by copy * ID_SHIFT: more than the span of ids in the
# captures' time (2021-2023) would need to collide, and copies * ID_SHIFT stays far
# below 2^63 for the sizes benched.
ID_SHIFT = 10**12
QUOTED_ID = re.compile(rb'"(\d{6,19})"')
DEFAULT_MB = 100
DEFAULT_REPEATS = 5


def realistic_lines(megabytes: int) -> list[bytes]:
    """The captures' lines, repeated with shifted ids until about megabytes of JSONL."""
    originals = [
        line for path in sorted(CAPTURES.glob("*.jsonl")) for line in path.read_bytes().splitlines()
    ]
    size = sum(len(line) + 1 for line in originals)
    lines: list[bytes] = []
    for copy in range(max(1, megabytes * 1_000_000 // size)):
        shift = copy * ID_SHIFT

        def shifted(match: re.Match[bytes], shift: int = shift) -> bytes:
            return b'"%d"' % (int(match.group(1)) + shift)

        lines.extend(QUOTED_ID.sub(shifted, line) for line in originals)
    return lines


def stdlib(lines: list[bytes]) -> int:
    return sum(len(parse_json_line_reference(line).rows) for line in lines)


def orjson_walk(lines: list[bytes]) -> int:
    import orjson

    return sum(len(parse_object(orjson.loads(line)).rows) for line in lines)


def msgspec_fast(lines: list[bytes]) -> int:
    rows = 0
    for line in lines:
        parsed = parse_fast(line)
        assert parsed is not None  # every real line takes the fast path
        rows += len(parsed.rows)
    return rows


def reader_blocks(lines: list[bytes]) -> int:
    """What `load` runs: parse_block on 1 MiB blocks (each block joined outside the timing)."""
    return sum(len(p.rows) for block in _blocks for p in parse_block(block, "bench").parsed)


_blocks: list[bytes] = []


def _tweets(line: bytes) -> int:
    """Tweets a line holds: a page's data, or one flattened tweet."""
    obj = json.loads(line)
    data = obj.get("data", obj)
    return len(data) if isinstance(data, list) else 1


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=DEFAULT_MB)
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    lines = realistic_lines(args.mb)
    megabytes = sum(len(line) + 1 for line in lines) / 1e6
    block: list[bytes] = []
    size = 0
    for line in lines:
        block.append(line)
        size += len(line) + 1
        if size >= 1 << 20:
            _blocks.append(b"\n".join(block) + b"\n")
            block, size = [], 0
    if block:
        _blocks.append(b"\n".join(block) + b"\n")
    methods: dict[str, Callable[[list[bytes]], int]] = {
        "stdlib json.loads + walk (reference)": stdlib,
        "msgspec typed structs (parse_fast)": msgspec_fast,
        "parse_block on 1 MiB blocks (the reader)": reader_blocks,
    }
    try:
        import orjson  # noqa: F401 - only to know whether it can be compared
    except ImportError:
        print("orjson not installed: its row is left out (pip install orjson)")
    else:
        methods["orjson.loads + walk"] = orjson_walk
    tweets = sum(_tweets(line) for line in lines)
    print(
        f"{megabytes:,.0f} MB of JSONL, {len(lines):,} lines, {megabytes * 1e6 / tweets:,.0f} B a tweet"
    )
    # round robin: a burst of load from other jobs on the shared machine hits every
    # decoder alike instead of all the repeats of one
    times: dict[str, list[float]] = {name: [] for name in methods}
    expected = stdlib(lines)
    for _ in range(args.repeats):
        for name, method in methods.items():
            started = time.perf_counter()
            rows = method(lines)
            times[name].append(time.perf_counter() - started)
            assert rows == expected, f"{name}: {rows} rows, the reference {expected}"
    results = {
        name: {"seconds": min(spent), "mb_per_s": megabytes / min(spent)}
        for name, spent in times.items()
    }
    base = results["stdlib json.loads + walk (reference)"]["seconds"]
    print(f"load average {load_average()}; best of {args.repeats}; {expected:,} rows each")
    print(f"{'decoder':<44} {'seconds':>8} {'MB/s':>7} {'x stdlib':>9}")
    for name, figures in results.items():
        print(
            f"{name:<44} {figures['seconds']:>8.2f} {figures['mb_per_s']:>7.0f}"
            f" {base / figures['seconds']:>9.2f}"
        )
    if args.json is not None:
        args.json.write_text(
            json.dumps({"mb": megabytes, "load_average": load_average(), "results": results})
        )


if __name__ == "__main__":
    main()
