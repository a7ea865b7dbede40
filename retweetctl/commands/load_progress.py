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

__all__ = ["LoadProgress"]


class LoadProgress:
    def __init__(self, console: Console) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            _ReadingOnly(DownloadColumn()),
            _ReadingOnly(TransferSpeedColumn()),
            _ReadingOnly(TimeRemainingColumn()),
            console=console,
            transient=True,
        )
        self.tasks: dict[str, TaskID] = {}
        self.merges: list[TaskID] = []  # "merging" tasks: removed when the next input starts

    def for_file(self, name: str, size: int | None) -> Callable[[int], None]:
        # Inputs load one after another: the ones merging before this one are done.
        for done in self.merges:
            self.bar.remove_task(done)
        self.merges.clear()
        task = self.bar.add_task(_label(name), total=size)
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
            f"{_label(name)}: merging {rows:,} rows…", total=None, merging=True
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


def _label(name: str) -> str:
    return Path(name).name if name != "-" else "stdin"
