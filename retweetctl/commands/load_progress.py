"""load's progress bar: bytes read (compressed bytes for a compressed input), then the merge.

Each input is one task: its bar moves on the bytes read from disk, and when the
file is read the task turns into `merging 1,000,000 rows…` with a pulsing bar,
so a terminal never sits at 100% while the database works.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
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
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.tasks: dict[str, TaskID] = {}

    def for_file(self, name: str, size: int | None) -> Callable[[int], None]:
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
        read = int(next((t.completed for t in self.bar.tasks if t.id == task), 0))
        self.bar.remove_task(task)  # a task's total cannot go back to None (pulsing)
        self.bar.add_task(f"{_label(name)}: merging {rows:,} rows…", total=None, completed=read)
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


def _label(name: str) -> str:
    return Path(name).name if name != "-" else "stdin"
