"""Run a parse over a stream's lines in worker processes, chunk by chunk, results in input order.

Nothing here knows what a line holds: `parse_chunk(chunk)` is any picklable
top-level function of a Chunk (the first line's number and whole lines as one
bytes object). Results come back in input order, so a loader that resolves a
retweeted_by page's author from earlier lines sees the same order as a serial
read. At most `depth` chunks are in flight, so memory stays flat whatever the
input size; the main process reads (and decompresses) while the workers parse.

The first `serial_bytes` of a stream are parsed in this process: a small input
never pays for starting workers, and a pipe's size need not be known.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import forkserver
from typing import IO, Generic, NamedTuple, TypeVar

from retweetctl.errors import ConfigError, TemporaryFailure

__all__ = [
    "CHUNK_BYTES",
    "Ahead",
    "SERIAL_BYTES",
    "SERVER_CORES",
    "Chunk",
    "WorkerDied",
    "chunks",
    "ordered_map",
    "parse_stream",
    "prestart",
    "worker_count",
]

R = TypeVar("R")
T = TypeVar("T")


class WorkerDied(TemporaryFailure):
    """A worker process ended without a result (a kill, the OOM killer): exit 75, retry."""


class Chunk(NamedTuple):
    first_line: int  # 1-based number of the first line in data
    data: bytes  # whole lines, each ending in b"\n" except perhaps the stream's last


# Lines sent to a worker at once. With msgspec decoding, two workers parsed 210 MB
# of real twarc pages at 186 MB/s in 1 MiB chunks, 160 MB/s in 4 MiB and 156 MB/s in
# 16 MiB (/tmp timing beside bench_load, load average 1.6 on this 2-core machine):
# shipping the lines costs about what parsing them does, and smaller chunks keep
# both workers busy. (The stdlib decoder was slow enough for 4 MiB chunks.)
CHUNK_BYTES = 1 << 20
# Chunks in flight per worker: one being parsed, one waiting, so no worker idles
# while the main process copies the previous results.
DEPTH_PER_WORKER = 2
# How often the read-ahead thread looks whether its consumer stopped.
POLL_SECONDS = 0.1
# Parse this many bytes in-process before starting workers. The first pool of a
# run took 0.22 s to its first result (forkserver plus imports; later pools
# 0.02-0.03 s) and the msgspec parse does 370-410 MB of real twarc pages per
# CPU-second in-process (210 MB, load average 1.6 on this 2-core machine), so a
# pool's start is worth some 86 MB of parse: below that workers cannot repay it.
# (With the stdlib decoder it was 86 MB/CPU-s, 0.54 s at load 9: 32 MiB.)
SERIAL_BYTES = 96 << 20


# Overrides worker_count(): 1 parses in the main process only (as before workers).
WORKERS_ENV = "RETWEETCTL_LOAD_WORKERS"
# Cores a load leaves to a database server on the same machine: its backend takes
# one while the main process parses and streams COPY on another. With none left
# (2 cores, otherwise idle, embedded server; /work/exp timing of `retweetctl load`
# on bench_load's 1,078 MB archive, 6-9 interleaved runs each, 2026-12-01), two
# workers took 0.99x the in-process time for the file (means 11.9 and 12.0 s, runs
# spread 10.6-13.3 s), 1.04-1.23x gzip-compressed, and 1.17x for the file cut in 8
# (10.4 against 8.9 s: the next file's parse-ahead and the catch-up of the one before
# want that core too): no faster, with twice the processes on a shared machine.
SERVER_CORES = 1


def worker_count(reserved: int = 0) -> int:
    """Processes to parse in: RETWEETCTL_LOAD_WORKERS, else the cores the load average
    leaves idle, less `reserved` (SERVER_CORES when the database server runs here); 1
    parses in the main process.

    Workers only pay on idle cores: at load average 8-14 on this 2-core machine a
    1 GB archive took 0.97-2.4x the serial time with two workers (the chunks'
    round trips wait for time slices), so a busy machine parses in-process.
    """
    configured = os.environ.get(WORKERS_ENV, "").strip()
    if configured:
        if not (configured.isascii() and configured.isdigit()) or not 0 < int(configured) <= 1024:
            raise ConfigError(
                f"{WORKERS_ENV} must be a number of processes (1-1024), got {configured!r}"
            )
        return int(configured)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    idle = min(cores, int(cores - busy + 0.5))
    return max(1, idle - reserved)


def chunks(stream: IO[bytes], chunk_bytes: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """Whole lines of stream, about chunk_bytes at a time, each with its first line's number."""
    line = 1
    while True:
        data = stream.read(chunk_bytes)
        if not data:
            return
        if not data.endswith(b"\n"):
            data += stream.readline()  # finish the last line (a 100 MB line too)
        yield Chunk(line, data)
        line += data.count(b"\n")


def _ignore_interrupt() -> None:
    # Ctrl-C reaches the whole process group: the main process stops the run and
    # its workers; a worker's own KeyboardInterrupt would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _context() -> multiprocessing.context.ForkServerContext:
    """The forkserver context, its server started if it was not.

    forkserver: a clean process forks the workers, so they inherit neither this
    process's threads (the progress bar's) nor its database connection. Nothing is
    preloaded in it: Python 3.11 imports preloaded modules with the server's current
    directory first on sys.path (it ignores the sys.path handed to it), so any
    `retweetctl/` in the user's directory would have been imported and run by the
    workers. Each worker imports the parse itself, with this process's sys.path, in
    about 0.07 s (no database driver: retweetctl/rows.py), the time a preload took.
    """
    context = multiprocessing.get_context("forkserver")
    forkserver.ensure_running()
    return context


def prestart() -> None:
    """Start the forkserver now, so the first pool starts at once: its interpreter's start
    overlaps whatever the caller does before its first parse."""
    _context()


def ordered_map(
    function: Callable[[T], R], items: Iterator[T], workers: int, depth: int
) -> Iterator[R]:
    """function over items in `workers` processes, in input order, at most depth pending."""
    context = _context()
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_ignore_interrupt)
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:
        raise WorkerDied(
            "a parse worker process died (killed, or out of memory?); "
            "nothing of this input was stored"
        ) from None
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


class Ahead(threading.Thread, Generic[T]):
    """Runs an iterator in a thread, up to `depth` items ahead of the caller.

    Read-ahead: zlib, bz2 and lzma release the GIL while they decompress, so on two
    cores the decompression overlaps the COPY instead of adding to it. Parse-ahead
    (load.py): the next file's lines are parsed while the server merges this one's.
    The thread starts at the first iteration, or at start() to begin sooner; stop()
    (or the end of the iteration) lets it go, and closes the iterator.
    """

    def __init__(self, items: Iterator[T], depth: int) -> None:
        super().__init__(name="retweetctl-read-ahead", daemon=True)
        self.items = items
        self.queue: queue.Queue[T | BaseException | None] = queue.Queue(depth)
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            for item in self.items:
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the caller, raised there
            self._put(exc)
            return
        finally:
            close = getattr(self.items, "close", None)
            if close is not None:  # a generator: its own cleanup (a worker pool) runs now
                close()
        self._put(None)

    def _put(self, item: T | BaseException | None) -> bool:
        while not self.stopping.is_set():
            try:
                self.queue.put(item, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def stop(self) -> None:
        self.stopping.set()

    def __iter__(self) -> Iterator[T]:
        if self.ident is None:
            self.start()
        try:
            while True:
                item = self.queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.stopping.set()
            # a read blocked on a stalled pipe must not hold up Ctrl-C: the thread is a daemon
            self.join(timeout=POLL_SECONDS * 10)


def parse_stream(
    stream: IO[bytes],
    parse_chunk: Callable[[Chunk], R],
    *,
    workers: int | None = None,
    serial_bytes: int | None = None,
    chunk_bytes: int | None = None,
) -> Iterator[R]:
    """parse_chunk over the stream's chunks: in-process up to serial_bytes, then in workers."""
    workers = worker_count() if workers is None else workers
    serial_bytes = SERIAL_BYTES if serial_bytes is None else serial_bytes
    source = chunks(stream, CHUNK_BYTES if chunk_bytes is None else chunk_bytes)
    done = 0
    for chunk in source:
        yield parse_chunk(chunk)
        done += len(chunk.data)
        if done >= serial_bytes and workers > 1:
            break
    else:
        return
    depth = workers * DEPTH_PER_WORKER
    yield from ordered_map(parse_chunk, iter(Ahead(source, depth)), workers, depth)
