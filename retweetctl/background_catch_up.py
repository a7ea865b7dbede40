"""The matrix aggregate caught up on a second connection while a load goes on.

A load of many files (an archive split by day, say) commits them one by one.
Folding each committed file's deltas into the aggregate as soon as it commits,
on a thread with its own connection, overlaps that work with the parse of the
next file (one core parses, the server folds on the other) and leaves only the
last file's deltas for the catch-up at the end of the run, instead of every
file's at once.

The thread only waits on the server (psycopg releases the GIL), so the parse
keeps its core. A failure here costs nothing: the final catch-up, on the
caller's connection, folds whatever is still pending, and one catch-up runs at a
time (aggregate.CATCH_UP_LOCK_KEY), so the two never fold a delta twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from retweetctl import testpoint
from retweetctl.aggregate import catch_up
from retweetctl.database import Connection

__all__ = ["APPLICATION_NAME", "BackgroundCatchUp"]

# The thread's session in pg_stat_activity, told apart from the load's own ("retweetctl").
APPLICATION_NAME = "retweetctl catch-up"


class BackgroundCatchUp:
    """poke() after a file commits; the thread catches up; leaving the `with` stops it.

    connect opens the thread's connection, on the first poke (a one-file load never
    opens it).
    """

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self.connect = connect
        self.wake = threading.Event()
        self.stopping = False
        self.pending = False  # poked since the last catch-up began
        self.failed: BaseException | None = None
        self.thread: threading.Thread | None = None

    def poke(self) -> None:
        if self.failed is not None or self.stopping:
            return
        if self.thread is None:
            self.thread = threading.Thread(
                target=self._run, name="retweetctl-catch-up", daemon=True
            )
            self.thread.start()
        self.pending = True
        self.wake.set()

    def _run(self) -> None:
        try:
            with self.connect() as conn:
                while True:
                    self.wake.wait()
                    self.wake.clear()
                    if self.pending:  # a file committed since the last catch-up
                        self.pending = False
                        catch_up(conn)
                        testpoint.reached("caught-up")  # tests only: see retweetctl/testpoint.py
                    if self.stopping and not self.pending:
                        return
        except Exception as exc:  # noqa: BLE001 - whatever it was, the final catch-up does the rest
            self.failed = exc

    def stop(self) -> None:
        """Let the thread fold what it was poked for (work the final catch-up would
        otherwise do), then end it."""
        self.stopping = True
        self.wake.set()
        if self.thread is not None:
            self.thread.join()

    def __enter__(self) -> BackgroundCatchUp:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.stop()
        else:  # interrupted: a daemon thread, its connection closed with the process
            self.stopping = True
            self.wake.set()
