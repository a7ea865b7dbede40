"""A CLI process that merges through the library, slowly, so tests can hurt it midway.

Run as `python merge_worker.py [--debug] merge SPEC_JSON`: it adds a `merge` command to
the real app and runs it through `retweetctl.cli.run`, so every failure goes through
the same error mapping (one line, exit code, scrubbed) as the shipped commands.

SPEC_JSON: {"batches": [[[tweet, retweeter, author], ...], ...], "row_delay": s, "every": n}
Each batch is merged in its own transaction; after each commit the worker prints
`committed <index> <added>` so a test knows what must be stored. While the first
batch is copying it prints `copying <index>`: the moment to strike.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import typer

from retweetctl import cli
from retweetctl.commands.common import state
from retweetctl.ingest import Row, merge_rows


def _slow(rows: list[list[int]], delay: float, every: int, index: int) -> Iterator[Row]:
    for number, (tweet, retweeter, author) in enumerate(rows):
        if number == 1:
            print(f"copying {index}", flush=True)
        if delay and number % every == 0:
            time.sleep(delay)
        yield (tweet, retweeter, author)


@cli.app.command("merge", hidden=True)
def merge(ctx: typer.Context, spec_file: Path) -> None:
    """Merge the batches of SPEC_FILE, one transaction each (test helper)."""
    spec = json.loads(spec_file.read_text())
    delay = float(spec.get("row_delay", 0))
    every = int(spec.get("every", 1000))
    with state(ctx).connect() as conn:
        for index, batch in enumerate(spec["batches"]):
            result = merge_rows(conn, _slow(batch, delay, every, index))
            print(f"committed {index} {result.added}", flush=True)


if __name__ == "__main__":
    sys.exit(cli.run(sys.argv[1:]))
