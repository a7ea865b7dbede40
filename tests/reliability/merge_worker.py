"""A CLI process that merges through the library, so tests can hurt it midway.

Run as `python merge_worker.py [--debug] merge SPEC_JSON`: it adds a `merge` command to
the real app and runs it through `retweetctl.cli.run`, so every failure goes through
the same error mapping (one line, exit code, scrubbed) as the shipped commands.

SPEC_JSON: {"batches": [[[tweet, retweeter, author], ...], ...]}
Each batch is merged by `merge_rows` in its own transaction; after each commit the
worker prints `committed <index> <added>` so a test knows what must be stored. To stop
it at a step of a batch, set RETWEETCTL_TEST_PAUSE (retweetctl/testpoint.py): the N-th
`copying`, `copied` or `merged` is batch N's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from retweetctl import cli
from retweetctl.commands.common import state
from retweetctl.ingest import merge_rows


@cli.app.command("merge", hidden=True)
def merge(ctx: typer.Context, spec_file: Path) -> None:
    """Merge the batches of SPEC_FILE, one transaction each (test helper)."""
    spec = json.loads(spec_file.read_text())
    with state(ctx).connect() as conn:
        for index, batch in enumerate(spec["batches"]):
            result = merge_rows(conn, (tuple(row) for row in batch))
            print(f"committed {index} {result.added}", flush=True)


if __name__ == "__main__":
    sys.exit(cli.run(sys.argv[1:]))
