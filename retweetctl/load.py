"""Load files of retweets (any format in readers.READERS) through the merge path.

Each file is one transaction (one StagingBatch): a database error, or
`strict` meeting a bad line, rolls that file back completely. Every format's
reader gives Parsed records; their rows stream into COPY, so memory stays flat;
users are deduplicated per chunk and COPYed into a temporary table between chunks,
then written to `users` by one upsert in id order (every writer locks users rows in
that one order, so a load beside fetches cannot deadlock). A file's transaction
rolled back by a deadlock or serialization failure (on Citus, possibly a
distributed one) is read again and retried when the input is a regular file.
"""

from __future__ import annotations

import functools
import logging
import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg.pq import TransactionStatus

from retweetctl import jsonl_workers, parallel
from retweetctl.conflicts import CONFLICTS, Notify, conflict_reason, retry_conflicts
from retweetctl.database import Connection, server_on_this_machine
from retweetctl.errors import (
    DataError,
    NoInputError,
    RetweetctlError,
    TemporaryFailure,
    UsageError,
)
from retweetctl.ingest import Retweet, Row, StagingBatch, User
from retweetctl.inputs import Compression, Input, open_input
from retweetctl.jsonl_workers import FileIdentity, file_blocks, parallel_blocks
from retweetctl.parallel import SERVER_CORES, Ahead, worker_count
from retweetctl.queries import load as sql
from retweetctl.readers import (
    AUTHOR_UNKNOWN,
    SNIFF_BYTES,
    Format,
    JsonlReader,
    Parsed,
    Reject,
    UnusableInput,
    detect,
    open_reader,
)
from retweetctl.readers.common import ReaderInput
from retweetctl.readers.formats import Reader
from retweetctl.readers.jsonl import BLOCK_BYTES, BlockSource, JsonlBlock, serial_blocks
from retweetctl.runaudit import run_audit

log = logging.getLogger(__name__)

STDIN = "-"
# Rows per COPY statement while users are waiting to be written; between chunks users
# are flushed and authors looked up. Large enough that a COPY's setup cost vanishes.
# Input without users (CSV) streams in one COPY.
ROW_CHUNK = 100_000
# Distinct users held before they are written: bounds memory on user-heavy files.
USER_CHUNK = 50_000
# Tweet -> author pairs remembered from this file's rows for its retweeted_by pages
# (about 8 MB at most; forgotten all at once when full, then the database is asked).
AUTHOR_CACHE_MAX = 50_000
# A row's tweet and author, taken in C for the tweet -> author cache.
_TWEET_ID = itemgetter(0)
_AUTHOR_ID = itemgetter(2)
# Marks a tweet whose author the database did not know either.
UNKNOWN = 0
# Lines of the next file parsed ahead while the server writes this one's users and
# merges it (load_files), as blocks of parsed records held (1 MiB of lines a block
# in-process, 4 MiB in workers' ranges). A 135 MB twarc2 file's tail (users, merge)
# took 0.5-0.8 s here, in which the main process parses 100-150 MB; 64 MiB ahead left
# it idle half that time. The 1 GB archive in 8 files (/work/exp timing, 5 interleaved
# pairs, 2026-12-01): 256 MiB ahead took 0.81-1.01x the time of 64 MiB (geometric
# mean 0.91x); peak RSS 84 against 77 MiB, and 127 against 80 MiB when the next file
# is larger than 256 MB (a 541 MB file, then a 1,078 MB one): ~0.18 MB of records a MiB.
PARSE_AHEAD_BYTES = 256 << 20
# An uncompressed file at least this big is parsed in worker processes reading their
# own ranges of it, when cores are idle (jsonl_workers.file_blocks): a pool's first
# result comes 0.08 s after it starts and the workers' results cost the main process
# about a third of what parsing does (~330 MB/s of real twarc2 pages in-process), so
# below some 30 MB the workers cannot repay their start.
RANGED_MIN_BYTES = 32 << 20

# (input name, its size on disk or None) -> a callable taking the bytes read so far
ProgressFactory = Callable[[str, int | None], Callable[[int], None] | None]
# (input name, rows staged) when the merge of an input starts
MergeListener = Callable[[str, int], None]


@dataclass
class LoadOptions:
    # None: detected per input (readers.detect); a Format (or its name) forces one
    format: Format | str | None = None
    strict: bool = False
    author: int | None = None
    # one rejects file for every input; None: <input name>.rejects.jsonl in the current directory
    rejects: Path | None = None


@dataclass
class LoadResult:
    """What loading one file (or all of them, summed) did.

    records: non-blank JSONL lines or CSV data rows read. seen: retweet rows
    offered to the merge; added: rows new to `retweets`. from_mention: rows of
    seen whose author was read from the retweet's `RT @name:` text (the original
    was missing). skipped: retweets that cannot give a row, per reason;
    rejected: malformed lines, per reason.
    """

    input: str
    format: str = ""
    records: int = 0
    seen: int = 0
    added: int = 0
    from_mention: int = 0
    users: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    committed: bool = False
    rejects_file: str | None = None
    note: str | None = None

    def __iadd__(self, other: LoadResult) -> LoadResult:
        self.records += other.records
        self.seen += other.seen
        self.added += other.added
        self.from_mention += other.from_mention
        self.users += other.users
        self.skipped.update(other.skipped)
        self.rejected.update(other.rejected)
        return self

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "format": self.format,
            "lines": self.records,  # input lines/rows read; "records" elsewhere means rows
            "seen": self.seen,
            "added": self.added,
            "attributed_from_retweet_text": self.from_mention,
            "users": self.users,
            "skipped": dict(sorted(self.skipped.items())),
            "rejected": dict(sorted(self.rejected.items())),
            "committed": self.committed,
            "rejects_file": self.rejects_file,
            "note": self.note,
        }


@dataclass
class LoadReport:
    files: list[LoadResult] = field(default_factory=list)

    @property
    def committed(self) -> list[LoadResult]:
        return [result for result in self.files if result.committed]

    def total(self) -> LoadResult:
        committed = bool(self.files) and all(r.committed for r in self.files)
        total = LoadResult(input="total", committed=committed)
        for result in self.committed:
            total += result
        return total


class LoadAborted(RetweetctlError):
    """A load stopped early; report says which files were committed before."""

    def __init__(self, cause: BaseException, report: LoadReport) -> None:
        message = cause.message if isinstance(cause, RetweetctlError) else str(cause)
        super().__init__(message)
        if isinstance(cause, RetweetctlError):
            self.exit_code = cause.exit_code
        self.cause = cause
        self.report = report


class LoadInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a load: report says which files committed before it (the file in
    flight rolled back). Still a KeyboardInterrupt, so the CLI exits 130."""

    def __init__(self, report: LoadReport) -> None:
        super().__init__()
        self.report = report


class RejectsSink:
    """Writes rejected lines as JSON objects, opening each file on its first reject."""

    def __init__(self, chosen: Path | None, directory: Path) -> None:
        self.chosen = chosen
        self.directory = directory
        self.files: dict[Path, IO[str]] = {}

    def path_for(self, name: str) -> Path:
        if self.chosen is not None:
            return self.chosen
        base = "stdin" if name == STDIN else Path(name).name
        return self.directory / f"{base}.rejects.jsonl"

    def write(self, reject: Reject) -> Path:
        path = self.path_for(reject.input)
        out = self.files.get(path)
        if out is None:
            try:
                out = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise UsageError(
                    f"cannot write the rejects file {path}: {exc.strerror} (choose one with --rejects)"
                ) from None
            self.files[path] = out
        try:
            out.write(reject.as_json() + "\n")
        except OSError as exc:  # a full disk: not the input's fault, so not exit 66
            raise UsageError(f"cannot write the rejects file {path}: {exc.strerror}") from None
        return path

    def mark(self) -> dict[Path, int]:
        """Where each open rejects file ends now, for rewind()."""
        return {path: out.tell() for path, out in self.files.items()}

    def rewind(self, mark: dict[Path, int]) -> None:
        """Cut every rejects file back to mark (a file opened since: to empty)."""
        for path, out in self.files.items():
            out.seek(mark.get(path, 0))
            out.truncate()

    def close(self) -> None:
        for out in self.files.values():
            out.close()


def check_inputs(names: Sequence[str]) -> None:
    """Fail before loading anything if an input is missing or unreadable (exit 66)."""
    if list(names).count(STDIN) > 1:
        raise UsageError("'-' (standard input) can be given only once")
    for name in names:
        if name == STDIN:
            continue
        try:
            mode = os.stat(name).st_mode
            if stat.S_ISREG(mode):  # a pipe would be drained or block: not opened
                open(name, "rb").close()  # root passes os.access() for anything: really open it
        except OSError as exc:
            raise NoInputError(f"cannot read {name}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(mode):
            where = name.rstrip("/") or "/"
            raise NoInputError(
                f"cannot read {name}: a directory; give the files in it ({where}/*.jsonl, say)"
            )


def _check_rejects_is_no_input(rejects: Path | None, names: Sequence[str]) -> None:
    if rejects is None or not rejects.exists():
        return
    for name in names:
        if name != STDIN and os.path.samefile(rejects, name):
            raise UsageError(f"--rejects {rejects} is one of the inputs; it would be overwritten")


def load_files(
    conn: Connection,
    names: Sequence[str],
    options: LoadOptions | None = None,
    *,
    progress: ProgressFactory | None = None,
    stdin: IO[bytes] | None = None,
    rejects_dir: Path | None = None,
    on_merge: MergeListener | None = None,
    on_retry: Notify | None = None,
    on_committed: Callable[[str], None] | None = None,
) -> LoadReport:
    """Load each input in its own transaction (all in one with strict); LoadAborted on a stop.

    A regular file whose transaction meets a database conflict is read again and
    retried (conflicts.py; on_retry gets one line per retry). Standard input, a
    pipe, and every input under strict (one transaction for the run) are not.
    on_committed(name) is told when a file other than the last has committed (not
    under strict): the CLI folds its rows into the matrix then, on another connection
    (background_catch_up.py), while the next file loads.
    """
    options = options or LoadOptions()
    forced = _format(options.format)
    report = LoadReport()
    if conn.info.transaction_status == TransactionStatus.INTRANS:
        conn.commit()  # so each file's transaction below really commits
    sink = RejectsSink(options.rejects, rejects_dir or Path.cwd())
    loader = _FileLoader(conn, options, forced, sink, progress, on_merge)
    try:
        with run_audit(conn, "load") as audit:
            try:
                check_inputs(names)
                loader.workers = worker_count(SERVER_CORES if server_on_this_machine(conn) else 0)
                _prestart_workers(names, loader.workers)
                _check_rejects_is_no_input(options.rejects, names)
                _check_contents(names)
                with (
                    conn.transaction() if options.strict else nullcontext(),
                    _Ahead(loader) as ahead,
                ):
                    for number, name in enumerate(names, start=1):
                        retry = not options.strict and _rereadable(name)
                        ahead.next_name = names[number] if number < len(names) else None
                        opened = ahead.take()
                        _load_one(
                            loader,
                            report,
                            name,
                            stdin,
                            retry=retry,
                            on_retry=on_retry,
                            opened=opened,
                        )
                        if on_committed is not None and not options.strict and number < len(names):
                            on_committed(name)
                for result in report.files:
                    result.committed = True
            except (RetweetctlError, psycopg.Error, OSError) as exc:
                if options.strict:
                    for result in report.files:
                        result.committed = False
                cause: BaseException = exc
                if isinstance(exc, CONFLICTS):  # not retried: stdin or a pipe, or --strict
                    name = report.files[-1].input if report.files else "an input"
                    why = (
                        "--strict loads all inputs in one transaction, which is not retried"
                        if options.strict
                        else f"{'standard input' if name == STDIN else name} cannot be read again"
                    )
                    cause = TemporaryFailure(
                        f"database conflict ({conflict_reason(exc)}) loading {name}, rolled back;"
                        f" {why}; retry the command"
                    )
                if isinstance(exc, OSError):  # reading an input failed after it was opened
                    name = report.files[-1].input if report.files else "an input"
                    cause = NoInputError(f"cannot read {name}: {exc.strerror or exc}")
                audit.fail(cause)
                raise LoadAborted(cause, report) from exc
            finally:
                sink.close()
                total = report.total()
                audit.seen, audit.added = total.seen, total.added
    except KeyboardInterrupt as exc:  # Ctrl-C: the file in flight rolled back, those before kept
        raise LoadInterrupted(report) from exc
    return report


def _rereadable(name: str) -> bool:
    """A regular file: opened again from its start for a retry (stdin and pipes are drained).

    A file gone since check_inputs is not: its load then fails as any vanished input does."""
    try:
        return name != STDIN and stat.S_ISREG(os.stat(name).st_mode)
    except OSError:
        return False


def _load_one(
    loader: _FileLoader,
    report: LoadReport,
    name: str,
    stdin: IO[bytes] | None,
    *,
    retry: bool,
    on_retry: Notify | None,
    opened: _Opened | None = None,
) -> None:
    """Load one input; with retry (a regular file), read it again after a conflict, with a
    fresh result and its rejects written afresh (the rolled-back attempt's are cut from
    the rejects file). opened: the input opened ahead, for the first attempt only."""
    mark = loader.sink.mark()
    start = len(report.files)
    first = [opened] if opened is not None else []

    def attempt() -> None:
        del report.files[start:]  # a rolled-back attempt's counts
        loader.sink.rewind(mark)
        result = LoadResult(input=name)
        report.files.append(result)
        loader.load(name, result, stdin, first.pop() if first else None)

    if retry:
        retry_conflicts(attempt, name, on_retry)
    else:
        attempt()


@dataclass
class _Opened:
    """An input opened and its format detected (None: empty); its reader's parse may
    have begun in a thread (ahead). Closing it stops that thread and closes the input."""

    source: Input
    format: Format | None
    reader: Reader | None
    ahead: Ahead[JsonlBlock] | None = None
    parsed_where: str = "in this process"  # for --debug

    def close(self) -> None:
        if self.ahead is not None:
            self.ahead.stop()
        self.source.close()

    def __enter__(self) -> _Opened:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class _Ahead:
    """The next input of a run, opened and its parse begun while this one merges.

    When a file's lines are all parsed, the server still has its users and its merge
    to do (about a quarter of a 541 MB archive's load), and this process waits: the
    next file's parse (in a thread, or its workers) fills that wait, up to
    PARSE_AHEAD_BYTES of lines. Opening it early changes nothing else: its records,
    rejects and transaction are the same. If it cannot be opened now, it is opened
    at its turn, which then says what is wrong.
    """

    def __init__(self, loader: _FileLoader) -> None:
        self.loader = loader
        self.next_name: str | None = None  # the input after the one loading now
        self.opened: _Opened | None = None  # next_name, opened ahead
        loader.on_parsed = self._open_next

    def _open_next(self) -> None:
        if self.next_name is None or self.next_name == STDIN or self.opened is not None:
            return
        try:
            self.opened = self.loader.open(self.next_name, None, ahead=True)
        except (RetweetctlError, OSError):
            self.opened = None  # opened again at its turn, which reports the error

    def take(self) -> _Opened | None:
        """The input opened ahead for the one about to load (inputs load in order)."""
        opened, self.opened = self.opened, None
        return opened

    def __enter__(self) -> _Ahead:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.loader.on_parsed = None
        if self.opened is not None:
            self.opened.close()
            self.opened = None


def _queued(ahead: Ahead[JsonlBlock]) -> BlockSource:
    """A BlockSource handing over what the parse-ahead thread has parsed (its args unused)."""

    def blocks(_stream: IO[bytes], _name: str) -> Iterator[JsonlBlock]:
        return iter(ahead)

    return blocks


def _no_reject(reject: Reject) -> None:  # replaced before the reader is read (load())
    raise AssertionError(f"reject before the load began: {reject}")


def _format(value: Format | str | None) -> Format | None:
    """The forced format of LoadOptions.format (a library caller may give its name;
    "auto", as the CLI's --format says it, means detect it)."""
    if value is None or isinstance(value, Format):
        return value
    if value == "auto":
        return None
    try:
        return Format(value)
    except ValueError:
        names = ", ".join(f.value for f in Format)
        raise UsageError(f"unknown format {value!r}: use one of {names}") from None


class _FileLoader:
    def __init__(
        self,
        conn: Connection,
        options: LoadOptions,
        forced: Format | None,
        sink: RejectsSink,
        progress: ProgressFactory | None,
        on_merge: MergeListener | None = None,
    ) -> None:
        self.conn = conn
        self.options = options
        self.forced = forced
        self.sink = sink
        self.progress = progress
        self.on_merge = on_merge
        self.on_parsed: Callable[[], None] | None = None
        self.users_table_ready = False
        self.workers = 1  # processes that parse a large JSONL input (load_files sets it)

    def open(self, name: str, stdin: IO[bytes] | None, *, ahead: bool = False) -> _Opened:
        """Open an input and detect its format; with ahead, a JSONL input's parse starts
        now, in a thread (the server is merging the file before: see load_files)."""
        source = open_input(name, stdin)
        try:
            detected = _detect(source)
            if detected is None:
                return _Opened(source, None, None)
            fmt = self.forced or detected
            reader = open_reader(source.stream, name, fmt, _no_reject)
            started: Ahead[JsonlBlock] | None = None
            where = "in this process"
            if isinstance(reader, JsonlReader):
                blocks, where, block_bytes = _jsonl_blocks(source, self.workers)
                if ahead:
                    depth = max(1, PARSE_AHEAD_BYTES // block_bytes)
                    started = Ahead(iter(blocks(source.stream, name)), depth)
                    started.start()
                    reader.blocks = _queued(started)
                    where += ", begun while the input before it merged"
                else:
                    reader.blocks = blocks
            return _Opened(source, fmt, reader, started, where)
        except BaseException:
            source.close()
            raise

    def load(
        self, name: str, result: LoadResult, stdin: IO[bytes] | None, opened: _Opened | None = None
    ) -> None:
        """Load one input (opened already, its parse perhaps begun, or opened here)."""
        with opened if opened is not None else self.open(name, stdin) as input_:
            if input_.format is None or input_.reader is None:
                result.note = "empty: nothing to load"
                result.committed = not self.options.strict
                return
            result.format = input_.format.value
            log.debug("%s: %s, parsed %s", name, result.format, input_.parsed_where)
            reader = input_.reader
            assert isinstance(reader, ReaderInput)  # every reader is one (readers.READERS)
            # set now: the input may have been opened before this file's result existed
            reader.on_reject = self._on_reject(result)
            reader.on_progress = self._on_progress(name, input_.source)
            step = _Steps(name)
            with self.conn.transaction():
                self.users_table_ready = False  # a rolled-back file takes the temp table with it
                batch = StagingBatch(self.conn, bulk=True)
                try:
                    self._copy(batch, iter(reader), result)
                except UnusableInput as exc:
                    raise DataError(str(exc)) from None
                result.records = reader.records
                lines = f"{result.records:,} line{'' if result.records == 1 else 's'}"
                step.done(f"{lines} read and parsed, {batch.seen:,} rows COPYed to staging")
                if self.on_parsed is not None:
                    self.on_parsed()  # the next input may start its parse now
                if self.on_merge is not None:  # the users' write is part of what it waits for
                    self.on_merge(name, batch.seen)
                result.users += self._upsert_users()
                step.done(f"{result.users:,} users written")
                merged = batch.merge()
                step.done(f"merge: {merged.added:,} of {merged.seen:,} rows added")
            step.done("committed")
            result.seen, result.added = merged.seen, merged.added
            _fail_if_all_rejected(result)
        # with strict, this file's transaction is a savepoint: committed only with the last file
        result.committed = not self.options.strict

    def _on_progress(self, name: str, source: Input) -> Callable[[int], None] | None:
        """The readers report decompressed bytes; the bar moves on the bytes read from disk
        (the same for an uncompressed input, which workers may read instead of the stream)."""
        advance = self.progress(name, source.size) if self.progress is not None else None
        if advance is None:
            return None
        if source.compression is Compression.NONE:
            return advance
        return lambda _decompressed: advance(source.consumed())

    def _on_reject(self, result: LoadResult) -> Callable[[Reject], None]:
        def on_reject(reject: Reject) -> None:
            path = self.sink.write(reject)
            result.rejected[reject.reason] += 1
            result.rejects_file = str(path)
            if self.options.strict:
                detail = f" ({reject.detail})" if reject.detail else ""
                raise DataError(
                    f"{reject.input} line {reject.line}: {reject.reason}{detail}; "
                    "--strict: nothing loaded"
                )

        return on_reject

    def _copy(self, batch: StagingBatch, lines: Iterator[Parsed], result: LoadResult) -> None:
        """COPY the rows of parsed records in chunks; between chunks, write users and look up authors."""
        users: dict[int, User] = {}
        authors: dict[int, int] = {}
        waiting: list[Parsed] = []  # a retweeted_by page whose author needs the database
        finished = False

        def rows_of(parsed: Parsed) -> list[Row]:
            if parsed.retweeted_by is None:
                return parsed.rows
            tweet_id, retweeters = parsed.retweeted_by
            author = self.options.author or authors.get(tweet_id, UNKNOWN)
            if author == UNKNOWN:
                result.skipped[AUTHOR_UNKNOWN] += len(retweeters)
                return []
            return [Retweet(tweet_id, retweeter, author) for retweeter in retweeters]

        def chunk() -> Iterator[Row]:
            nonlocal finished
            count = 0
            while waiting:
                rows = rows_of(waiting.pop())
                count += len(rows)
                yield from rows
            for parsed in lines:
                for user in parsed.users:
                    users[user[0]] = user
                for reason in parsed.skipped:
                    result.skipped[reason] += 1
                result.from_mention += parsed.from_mention
                if parsed.retweeted_by is not None:
                    tweet_id = parsed.retweeted_by[0]
                    if self.options.author is None and tweet_id not in authors:
                        waiting.append(parsed)
                        return  # ends this COPY so the database can be asked
                rows = rows_of(parsed)
                if rows:
                    if len(authors) >= AUTHOR_CACHE_MAX:
                        authors.clear()
                    authors.update(zip(map(_TWEET_ID, rows), map(_AUTHOR_ID, rows), strict=True))
                    count += len(rows)
                    yield from rows
                if (users and count >= ROW_CHUNK) or len(users) >= USER_CHUNK:
                    return
            finished = True

        while not finished:
            batch.copy(chunk())
            self._stage_users(users)
            users.clear()
            if waiting:
                assert waiting[0].retweeted_by is not None
                tweet_id = waiting[0].retweeted_by[0]
                authors[tweet_id] = self._author_of(tweet_id)

    def _author_of(self, tweet_id: int) -> int:
        row = self.conn.execute(sql("load_author_of"), {"tweet_id": tweet_id}).fetchone()
        if row is None or not isinstance(row[0], int):
            return UNKNOWN
        return row[0]

    def _stage_users(self, users: dict[int, User]) -> None:
        """COPY one deduplicated chunk of users into the temp table; _upsert_users writes them."""
        if not users:
            return
        with self.conn.cursor() as cur:
            if not self.users_table_ready:
                cur.execute(sql("load_users_table"))
                self.users_table_ready = True
            with cur.copy("COPY load_users (id, username, name) FROM STDIN") as copy:
                for user in users.values():
                    copy.write_row(user)

    def _upsert_users(self) -> int:
        """The file's users into `users`: one upsert in id order, so writers never deadlock."""
        if not self.users_table_ready:
            return 0
        with self.conn.cursor() as cur:
            cur.execute(sql("load_upsert_users"))
            written = max(cur.rowcount, 0)
            cur.execute("TRUNCATE load_users")
        return written


class _Steps:
    """--debug: each step of a file's load, with the seconds since the step before."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.last = time.perf_counter()

    def done(self, what: str) -> None:
        now = time.perf_counter()
        log.debug("%s: %s, %.2f s", self.name, what, now - self.last)
        self.last = now


def _prestart_workers(names: Sequence[str], workers: int) -> None:
    """Start the parse workers' forkserver now if an input is big enough to use them, so
    its start overlaps the checks and the first reads (see parallel.prestart)."""
    if workers <= 1:
        return
    threshold = min(RANGED_MIN_BYTES, parallel.SERIAL_BYTES)
    for name in names:
        if name != STDIN and os.stat(name).st_size >= threshold:
            parallel.prestart()
            return


def _jsonl_blocks(source: Input, workers: int) -> tuple[BlockSource, str, int]:
    """Where a JSONL input is parsed, the words for it (--debug) and the bytes of lines in
    a block it yields: here, or in `workers` processes once it is large (an uncompressed
    file: each worker reads its own ranges)."""
    if workers <= 1:
        return serial_blocks, "in this process", BLOCK_BYTES
    identity = source.identity()
    if identity is not None and source.size is not None and source.size >= RANGED_MIN_BYTES:
        blocks = file_blocks(FileIdentity(*identity), source.size, workers)
        where = f"by {workers} worker processes, each reading its own ranges of it"
        return blocks, where, jsonl_workers.RANGE_BYTES
    shipped = functools.partial(parallel_blocks, workers=workers)
    where = f"by {workers} worker processes once large, its lines shipped to them"
    return shipped, where, parallel.CHUNK_BYTES


def _detect(source: Input) -> Format | None:
    """The format from the decompressed start (None: empty); DataError for a binary input."""
    try:
        return detect(source.peek(SNIFF_BYTES), source.name)
    except UnusableInput as exc:
        raise DataError(str(exc)) from None


def _check_contents(names: Sequence[str]) -> None:
    """Refuse a binary input (exit 65) before any input is loaded; stdin is checked at its turn."""
    for name in names:
        if name != STDIN and stat.S_ISREG(os.stat(name).st_mode):
            with open_input(name) as source:
                _detect(source)


def _fail_if_all_rejected(result: LoadResult) -> None:
    rejected = sum(result.rejected.values())
    if result.records and rejected == result.records:
        raise DataError(
            f"{result.input}: all {rejected} records were rejected (see {result.rejects_file})"
        )
