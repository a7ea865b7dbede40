"""Saying so when the matrix aggregate has much to catch up (after a large load)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from retweetctl import testpoint
from retweetctl.aggregate import CatchUp, catch_up
from retweetctl.commands.common import stderr_console
from retweetctl.database import Connection

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

# Catching up folds roughly 100,000 deltas a second (bench/bench_matrix.py, 1M rows on a
# busy 2-core machine): from this many pending rows it takes a second or more, so say so.
ANNOUNCE_ROWS = 100_000


def catch_up_telling(conn: Connection, quiet: bool = False) -> CatchUp:
    """catch_up, with `updating the matrix: N new rows…` on stderr when it is long, and a
    progress bar when stderr is a terminal."""
    testpoint.reached("catching-up")  # tests only: see retweetctl/testpoint.py
    with _reporter(quiet) as progress:
        return catch_up(conn, progress)


class _Reporter:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.quiet or total < ANNOUNCE_ROWS:
            return
        if done == 0 and self.bar is None:
            stderr_console.print(
                f"updating the matrix: {total:,} new rows…", markup=False, highlight=False
            )
            if stderr_console.is_terminal:
                from rich import progress

                bar = progress.Progress(
                    progress.BarColumn(),
                    progress.TaskProgressColumn(),
                    progress.TimeElapsedColumn(),
                    console=stderr_console,
                    transient=True,
                )
                bar.start()
                self.task = bar.add_task("catch-up", total=total)
                self.bar = bar
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@contextlib.contextmanager
def _reporter(quiet: bool) -> Iterator[_Reporter]:
    reporter = _Reporter(quiet)
    try:
        yield reporter
    finally:
        reporter.close()
