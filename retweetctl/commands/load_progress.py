"""load's progress bar: bytes read (compressed bytes for a compressed input), then the merge.

Each input is one task: its bar moves on the bytes read from disk, and when the
file is read the task turns into `merging 1,000,000 rows…` with a pulsing bar,
so a terminal never sits at 100% while the database works.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from retweetctl.report import shorten

__all__ = ["LoadProgress"]


# Columns the bar leaves free at the right: a terminal echoes ^C after the cursor, and
# after a full-width line that echo wraps to a new line, so the bar's erase on exit
# (one line up) would miss the bar and leave it on screen.
FREE_COLUMNS = 2


# The bar (at least 10), bytes read of total (16), speed (11), time left (8), spaces.
NUMBERS_WIDTH = 49
MIN_LABEL_WIDTH = 12


class LoadProgress:
    def __init__(self, console: Console) -> None:
        if console.is_terminal:
            console = Console(
                file=console.file,
                width=max(console.width - FREE_COLUMNS, 20),
                force_terminal=True,
                no_color=console.no_color,
                color_system=console.color_system,  # type: ignore[arg-type]
            )
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            _ReadingOnly(DownloadColumn()),
            _ReadingOnly(TransferSpeedColumn()),
            _ReadingOnly(TimeRemainingColumn()),
            console=console,
            transient=True,
        )
        # What the bar, bytes, speed and time left take: a long file name is cut to leave
        # them room (rich would cut the bar first, then the numbers).
        self.label_width = max(console.width - NUMBERS_WIDTH, MIN_LABEL_WIDTH)
        self.tasks: dict[str, TaskID] = {}
        self.merges: list[TaskID] = []  # "merging" tasks: removed when the next input starts

    def for_file(self, name: str, size: int | None) -> Callable[[int], None]:
        # Inputs load one after another: the ones merging before this one are done.
        for done in self.merges:
            self.bar.remove_task(done)
        self.merges.clear()
        task = self.bar.add_task(_label(name, self.label_width), total=size)
        self.tasks[name] = task

        def advance(done: int) -> None:
            self.bar.update(task, completed=done)

        return advance

    def merging(self, name: str, rows: int) -> None:
        """The input is read; the merge of its rows starts (no end known: the bar pulses)."""
        task = self.tasks.pop(name, None)
        if task is None:
            return
        self.bar.remove_task(task)  # a task's total cannot go back to None (pulsing)
        merge = self.bar.add_task(
            f"{_label(name, self.label_width)}: merging {rows:,} rows…", total=None, merging=True
        )
        self.merges.append(merge)
        self.bar.refresh()  # a short merge may end before the next automatic refresh

    def __enter__(self) -> LoadProgress:
        self.bar.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.bar.stop()


class _ReadingOnly(ProgressColumn):
    """A column of bytes read, blank on a merging task (it has rows, not bytes, to show)."""

    def __init__(self, column: ProgressColumn) -> None:
        super().__init__()
        self.column = column

    def render(self, task: Task) -> RenderableType:
        return "" if task.fields.get("merging") else self.column.render(task)


def _label(name: str, width: int) -> str:
    """The input's file name (stdin for '-'), cut in the middle to fit `width`."""
    return shorten(Path(name).name if name != "-" else "stdin", width)
