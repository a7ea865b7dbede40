"""load's inputs: compressed files and stdin, the parse in worker processes, the progress bar."""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import json
import lzma
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard

from retweetctl import jsonl_workers, parallel
from retweetctl import load as load_module
from retweetctl.database import Connection, host_is_this_machine, server_on_this_machine
from retweetctl.errors import ExitCode
from retweetctl.ingest import StagingBatch
from retweetctl.inputs import Compression, CorruptInput, open_input
from retweetctl.jsonl_workers import (
    FileChanged,
    FileIdentity,
    file_blocks,
    parallel_blocks,
    parse_chunk,
)
from retweetctl.load import LoadAborted, LoadReport, load_files
from retweetctl.parallel import Chunk, WorkerDied, chunks, parse_stream
from retweetctl.readers import AUTHOR_UNKNOWN, JsonlReader, Parsed, Reject
from tests.conftest import run_cli
from tests.terminal import run_on_terminal

TESTS = Path(__file__).resolve().parent
TWARC = TESTS / "data" / "twarc"
BAD = TESTS / "data" / "load"

COMPRESSORS: dict[Compression, Callable[[bytes], bytes]] = {
    Compression.GZIP: gzip.compress,
    Compression.BZIP2: bz2.compress,
    Compression.XZ: lzma.compress,
    Compression.ZSTD: lambda data: zstandard.ZstdCompressor().compress(data),
}


class Trickle(io.RawIOBase):
    """A pipe that hands over at most `step` bytes per read (magic bytes arrive split)."""

    def __init__(self, data: bytes, step: int = 1) -> None:
        self.data = data
        self.step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(self.step, len(buffer), len(self.data))
        buffer[:size] = self.data[:size]
        self.data = self.data[size:]
        return size


def table(conn: Connection) -> set[tuple[Any, ...]]:
    return set(conn.execute("SELECT tweet_id, retweeter_id, author_id FROM retweets").fetchall())


def load(conn: Connection, names: list[Path | str], tmp_path: Path, **kwargs: Any) -> LoadReport:
    return load_files(conn, [str(n) for n in names], rejects_dir=tmp_path, **kwargs)


# -- opening inputs (no database) ---------------------------------------------


@pytest.mark.parametrize("kind", list(COMPRESSORS), ids=lambda k: k.value)
def test_each_compression_is_found_by_its_magic_bytes_not_its_name(
    kind: Compression, tmp_path: Path
) -> None:
    plain = (TWARC / "2sets.jsonl").read_bytes()
    path = tmp_path / "capture.jsonl"  # no telling suffix
    path.write_bytes(COMPRESSORS[kind](plain))
    seen: list[int] = []
    with open_input(str(path)) as source:
        assert source.compression is kind
        assert source.size == path.stat().st_size
        for line in source.stream:
            assert line
            seen.append(source.consumed())
    assert seen == sorted(seen) and seen[-1] == path.stat().st_size
    with open_input(str(path)) as source:
        data_back = source.stream.read()
    assert data_back == plain


def test_a_plain_file_named_gz_is_read_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "not really.jsonl.gz"
    path.write_bytes((TWARC / "brexit.jsonl").read_bytes())
    with open_input(str(path)) as source:
        assert source.compression is Compression.NONE
        assert source.stream.read() == path.read_bytes()


@pytest.mark.parametrize("kind", list(COMPRESSORS), ids=lambda k: k.value)
def test_stdin_compressed_through_a_trickling_pipe(kind: Compression) -> None:
    plain = (TWARC / "brexit.jsonl").read_bytes()
    packed = COMPRESSORS[kind](plain)
    with open_input("-", io.BufferedReader(Trickle(packed), 7)) as source:
        assert (source.compression, source.size) == (kind, None)
        assert source.stream.read() == plain
        assert source.consumed() == len(packed)


class Terminal(io.RawIOBase):
    """Standard input at a terminal: Ctrl-D gives b"" once; asked again it waits for more
    typing (here: hands over what was typed after, which a load must never read)."""

    def __init__(self, typed: list[bytes]) -> None:
        self.typed = typed

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.typed.pop(0) if self.typed else b"typed after the end"
        buffer[: len(data)] = data
        return len(data)


def test_standard_input_ends_at_the_first_ctrl_d() -> None:
    line = (TWARC / "brexit.jsonl").read_bytes()
    with open_input("-", Terminal([line, b""])) as source:
        assert source.stream.read() == line
    with open_input("-", Terminal([b""])) as empty:
        assert empty.peek(64) == b"" and empty.stream.read() == b""


@pytest.mark.parametrize("kind", list(COMPRESSORS), ids=lambda k: k.value)
def test_a_truncated_compressed_file_is_corrupt_not_short(
    kind: Compression, tmp_path: Path
) -> None:
    packed = COMPRESSORS[kind]((TWARC / "brexit.jsonl").read_bytes())
    path = tmp_path / "cut"
    path.write_bytes(packed[: len(packed) // 2])
    with open_input(str(path)) as source, pytest.raises(CorruptInput) as caught:
        source.stream.read()
    assert caught.value.exit_code == ExitCode.DATA_ERROR
    assert caught.value.message.startswith(f"{path}: corrupt {kind.value} data (")


@pytest.mark.parametrize("kind", list(COMPRESSORS), ids=lambda k: k.value)
def test_damaged_compressed_data_is_corrupt(kind: Compression, tmp_path: Path) -> None:
    # Bytes flipped in the middle of the compressed stream (not at its end): the
    # decompressor's own error (zlib's, ISA-L's, lzma's…) becomes the one clear line.
    packed = bytearray(COMPRESSORS[kind]((TWARC / "brexit.jsonl").read_bytes()))
    middle = len(packed) // 2
    packed[middle : middle + 8] = bytes(b ^ 0x5A for b in packed[middle : middle + 8])
    path = tmp_path / "damaged"
    path.write_bytes(packed)
    with open_input(str(path)) as source, pytest.raises(CorruptInput) as caught:
        source.stream.read()
    assert caught.value.exit_code == ExitCode.DATA_ERROR
    assert caught.value.message.startswith(f"{path}: corrupt {kind.value} data (")


def test_a_gzip_member_with_an_invalid_deflate_block_is_corrupt(tmp_path: Path) -> None:
    # A gzip header, then a deflate block of the reserved type 3: the decompressor's
    # own error (zlib.error, or ISA-L's IsalError, which is no OSError), not a CRC check.
    path = tmp_path / "invalid.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x07" + bytes(20))
    with open_input(str(path)) as source, pytest.raises(CorruptInput) as caught:
        source.stream.read()
    assert caught.value.exit_code == ExitCode.DATA_ERROR
    assert caught.value.message.startswith(f"{path}: corrupt gzip data (")
    assert "deflate block" in caught.value.message or "block type" in caught.value.message


# -- chunks and workers (real worker processes, no database) -------------------


def test_chunks_end_on_line_ends_and_number_their_first_line() -> None:
    data = b"".join(b"%d %s\n" % (n, b"x" * (n % 7)) for n in range(1, 501)) + b"last"
    got = list(chunks(io.BytesIO(data), chunk_bytes=64))
    assert b"".join(c.data for c in got) == data
    for chunk in got:
        assert chunk.data.split(b" ", 1)[0] == b"%d" % chunk.first_line or chunk.data == b"last"
        assert chunk.data.endswith(b"\n") or chunk is got[-1]


def count_pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The worker count of each pool parallel.ordered_map starts (the real pool runs)."""
    pools: list[int] = []
    real_map = parallel.ordered_map

    def spy(*args: Any) -> Any:
        pools.append(args[2])
        return real_map(*args)

    monkeypatch.setattr(parallel, "ordered_map", spy)
    return pools


def spy_file_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes load planned worker ranges for (jsonl_workers.file_blocks, really run)."""
    sizes: list[int] = []
    real = load_module.file_blocks

    def spy(identity: FileIdentity, size: int, workers: int | None = None) -> Any:
        sizes.append(size)
        return real(identity, size, workers)

    monkeypatch.setattr(load_module, "file_blocks", spy)
    return sizes


def runs(parsed: list[Parsed]) -> list[Parsed]:
    """Records as one block would group them: runs of lines merged, a retweeted_by page alone."""
    out: list[Parsed] = []
    current: Parsed | None = None
    for item in parsed:
        if item.retweeted_by is not None:
            out.append(item)
            current = None
            continue
        if current is None:
            current = Parsed()
            out.append(current)
        current.extend(item)
    return out


def test_workers_give_the_lines_and_rejects_of_the_serial_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = (BAD / "bad_lines.jsonl").read_bytes() * 3 + (TWARC / "2sets.jsonl").read_bytes()
    serial: list[Reject] = []
    expected = list(JsonlReader(io.BytesIO(data), "in", serial.append).lines())
    monkeypatch.setenv(parallel.WORKERS_ENV, "2")
    monkeypatch.setattr(parallel, "SERIAL_BYTES", 0)  # every chunk goes to a worker
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 4096)
    pools = count_pools(monkeypatch)
    rejects: list[Reject] = []
    reader = JsonlReader(io.BytesIO(data), "in", rejects.append, blocks=parallel_blocks)
    got = list(reader.lines())
    assert pools == [2]
    assert len(got) > len(expected)  # blocks of 4 KB: the same records in more, smaller runs
    assert runs(got) == runs(expected)
    assert rejects == serial and len(rejects) == 39
    assert reader.records == sum(1 for line in data.splitlines() if line.strip())


def ranged_source(path: Path, size: int | None = None) -> Any:
    """file_blocks over path's first `size` bytes (all of it by default), in two workers."""
    info = path.stat()
    identity = FileIdentity(str(path), info.st_dev, info.st_ino)
    return file_blocks(identity, info.st_size if size is None else size, workers=2)


def test_workers_reading_their_own_ranges_give_the_lines_and_rejects_of_the_serial_reader(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Real pages (a few KB to 100 KB a line) and malformed lines; ranges of 3,000 bytes,
    # so lines cross range ends and some lines are longer than several ranges.
    data = (BAD / "bad_lines.jsonl").read_bytes() * 3 + (TWARC / "2sets.jsonl").read_bytes()
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    serial: list[Reject] = []
    expected = list(JsonlReader(io.BytesIO(data), "in", serial.append).lines())
    monkeypatch.setattr(jsonl_workers, "RANGE_BYTES", 3000)
    pools = count_pools(monkeypatch)
    rejects: list[Reject] = []
    reader = JsonlReader(io.BytesIO(b""), "in", rejects.append, blocks=ranged_source(path))
    got = list(reader.lines())
    assert pools == [2]
    assert len(data) > 10 * 3000 and max(map(len, data.splitlines())) > 3 * 3000
    assert runs(got) == runs(expected)
    assert rejects == serial and len(rejects) == 39  # numbered as lines of the whole file
    assert reader.records == sum(1 for line in data.splitlines() if line.strip())


def test_lines_appended_after_the_ranges_were_planned_are_parsed_here(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = (TWARC / "2sets.jsonl").read_bytes() + (BAD / "bad_lines.jsonl").read_bytes()
    path = tmp_path / "growing.jsonl"
    path.write_bytes(data)
    serial: list[Reject] = []
    expected = list(JsonlReader(io.BytesIO(data), "in", serial.append).lines())
    monkeypatch.setattr(jsonl_workers, "RANGE_BYTES", 5000)
    rejects: list[Reject] = []
    # ranges planned for the first half only, as if the rest was written during the load
    blocks = ranged_source(path, size=len(data) // 2)
    got = list(JsonlReader(io.BytesIO(b""), "in", rejects.append, blocks=blocks).lines())
    assert runs(got) == runs(expected)
    assert rejects == serial and rejects[0].line > data[: len(data) // 2].count(b"\n")


def test_a_file_replaced_while_it_loads_stops_with_exit_75(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes((TWARC / "2sets.jsonl").read_bytes())
    blocks = ranged_source(path)
    replacement = tmp_path / "new.jsonl"
    replacement.write_bytes(path.read_bytes())
    os.replace(replacement, path)  # same bytes, another file: the workers must notice
    with pytest.raises(FileChanged, match="in.jsonl was replaced while it loaded") as caught:
        list(JsonlReader(io.BytesIO(b""), "in.jsonl", print, blocks=blocks).lines())
    assert caught.value.exit_code == ExitCode.TEMPORARY


# Loads path with two workers reading ranges, from the current directory, and prints
# the rows stored. Run as a file from elsewhere, so only the installed retweetctl is
# on its sys.path; the directory it runs in holds another `retweetctl` package.
LOAD_FROM_A_DIRECTORY = """
import sys
import psycopg
from retweetctl import jsonl_workers, load
load.RANGED_MIN_BYTES = 0
jsonl_workers.RANGE_BYTES = 4096
if __name__ == "__main__":
    with psycopg.connect(sys.argv[1]) as conn:
        report = load.load_files(conn, [sys.argv[2]])
        stored = conn.execute("SELECT count(*) FROM retweets").fetchone()[0]
        print(report.files[0].seen, stored)
"""


def test_workers_run_this_retweetctl_whatever_the_current_directory_holds(
    db_url: str, tmp_path: Path
) -> None:
    # Another checkout's retweetctl in the user's directory (an older one, say, without
    # parse_range): the forkserver once imported it from there and every worker died.
    other = tmp_path / "work" / "retweetctl"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("")
    (other / "jsonl_workers.py").write_text("raise SystemExit('the wrong retweetctl')\n")
    (tmp_path / "work" / "in.jsonl").write_bytes((TWARC / "2sets.jsonl").read_bytes())
    script = tmp_path / "bin" / "run.py"
    script.parent.mkdir()
    script.write_text(LOAD_FROM_A_DIRECTORY)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env[parallel.WORKERS_ENV] = "2"
    done = subprocess.run(
        [sys.executable, str(script), db_url, "in.jsonl"],
        cwd=tmp_path / "work",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen, stored = map(int, done.stdout.split())
    assert seen == stored > 0


def test_results_come_back_in_input_order_from_several_workers() -> None:
    page = (
        b'{"data": [{"id": "9%d", "author_id": "7", "referenced_tweets": '
        b'[{"type": "retweeted", "id": "%d"}]}], '
        b'"includes": {"tweets": [{"id": "%d", "author_id": "5"}]}}\n'
    )
    lines = b"".join(page % (n, n, n) for n in range(1, 2001))
    results = list(
        parse_stream(
            io.BytesIO(lines),
            functools.partial(parse_chunk, "in"),
            workers=2,
            serial_bytes=0,
            chunk_bytes=4096,
        )
    )
    assert len(results) > 20  # many chunks, so many chances to come back out of order
    assert sum(r.size for r in results) == len(lines)
    assert sum(r.records for r in results) == 2000
    tweets = [row[0] for r in results for parsed in r.parsed for row in parsed.rows]
    assert tweets == list(range(1, 2001))


def test_corrupt_data_met_while_reading_ahead_reaches_the_caller(tmp_path: Path) -> None:
    packed = gzip.compress((TWARC / "2sets.jsonl").read_bytes() * 4)
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with open_input(str(path)) as source, pytest.raises(CorruptInput, match="cut.gz: corrupt gzip"):
        for _ in parse_stream(
            source.stream,
            functools.partial(parse_chunk, "cut.gz"),
            workers=2,
            serial_bytes=0,
            chunk_bytes=65536,
        ):
            pass


def die_on_marker(chunk: Chunk) -> int:
    """A parse that kills its worker process at the chunk holding b'DIE' (runs in a worker)."""
    if b"DIE" in chunk.data:
        os._exit(9)
    return chunk.first_line


def test_a_worker_that_dies_stops_the_input_with_exit_75() -> None:
    data = b"".join(b"line %d\n" % n for n in range(300)) + b"DIE\n" + b"more\n" * 100
    results: list[int] = []
    with pytest.raises(WorkerDied, match="a parse worker process died") as caught:
        for first in parse_stream(
            io.BytesIO(data), die_on_marker, workers=2, serial_bytes=0, chunk_bytes=256
        ):
            results.append(first)
    assert caught.value.exit_code == ExitCode.TEMPORARY
    assert results == sorted(results) and results[-1] < 301  # nothing after the dead chunk


@pytest.mark.parametrize(
    ("cores", "load", "reserved", "expected"),
    [
        (2, 0.1, 0, 2),
        (2, 0.8, 0, 1),
        (2, 12.0, 0, 1),
        # a server on this machine takes one of two idle cores: no core left for workers
        (2, 0.1, parallel.SERVER_CORES, 1),
        (4, 0.1, parallel.SERVER_CORES, 3),
        (4, 1.9, parallel.SERVER_CORES, 1),
    ],
)
def test_workers_default_to_the_idle_cores_the_server_leaves(
    cores: int, load: float, reserved: int, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(parallel.WORKERS_ENV, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert parallel.worker_count(reserved) == expected


@pytest.mark.parametrize(
    ("host", "here"),
    [
        ("/tmp/retweetctl-socket", True),
        ("", True),
        ("localhost", True),
        ("127.0.0.1", True),
        ("::1", True),
        ("10.1.2.3", False),
        ("db.example.org", False),
    ],
)
def test_a_server_shares_the_cores_on_a_socket_or_loopback(host: str, here: bool) -> None:
    assert host_is_this_machine(host) is here


def test_the_test_server_is_on_this_machine(conn: Connection) -> None:
    assert server_on_this_machine(conn)


def test_a_bad_worker_count_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.WORKERS_ENV, "many")
    with pytest.raises(parallel.ConfigError, match="RETWEETCTL_LOAD_WORKERS must be"):
        parallel.worker_count()
    monkeypatch.setenv(parallel.WORKERS_ENV, "3")
    assert parallel.worker_count() == 3


# -- loading (a real PostgreSQL) -------------------------------------------------


@pytest.mark.parametrize("kind", list(COMPRESSORS), ids=lambda k: k.value)
def test_a_compressed_capture_loads_the_rows_of_the_plain_one(
    kind: Compression, conn: Connection, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "withheld.jsonl.packed"
    path.write_bytes(COMPRESSORS[kind]((TWARC / "withheld.jsonl").read_bytes()))
    sizes: list[tuple[int | None, int]] = []

    def progress(name: str, size: int | None) -> Callable[[int], None]:
        return lambda done: sizes.append((size, done))

    result = load(conn, [path], tmp_path, progress=progress).files[0]
    assert result.format == "twarc" and result.committed
    loaded = table(conn)
    conn.execute("TRUNCATE retweets")
    conn.commit()
    plain = load(conn, [TWARC / "withheld.jsonl"], tmp_path).files[0]
    assert loaded == table(conn) and len(loaded) == plain.added > 0
    assert (result.seen, result.skipped) == (plain.seen, plain.skipped)
    assert sizes[-1] == (path.stat().st_size, path.stat().st_size)  # compressed bytes


@pytest.mark.parametrize("workers", [1, 2], ids=["here", "in-workers"])
def test_the_next_file_is_parsed_while_this_one_merges_with_the_same_result(
    conn: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    names = [TWARC / "2sets.jsonl", BAD / "bad_lines.jsonl", TWARC / "kpop.jsonl"]
    monkeypatch.setenv(parallel.WORKERS_ENV, str(workers))
    monkeypatch.setattr(load_module, "RANGED_MIN_BYTES", 0)  # with 2: workers read ranges
    monkeypatch.setattr(jsonl_workers, "RANGE_BYTES", 4096)
    (tmp_path / "alone").mkdir()
    with monkeypatch.context() as no_ahead:  # the same run, nothing opened ahead
        no_ahead.setattr(load_module._Ahead, "_open_next", lambda self: None)
        alone = load(conn, names, tmp_path / "alone").files
    conn.execute("TRUNCATE retweets, users")
    conn.commit()
    rejects_alone = (tmp_path / "alone" / "bad_lines.jsonl.rejects.jsonl").read_text()
    events: list[str] = []
    real_open, real_merge = load_module._FileLoader.open, StagingBatch.merge

    def spy_open(self: Any, name: str, stdin: Any, *, ahead: bool = False) -> Any:
        events.append(f"open {Path(name).name}{' ahead' if ahead else ''}")
        return real_open(self, name, stdin, ahead=ahead)

    def spy_merge(self: StagingBatch) -> Any:
        events.append("merge")
        return real_merge(self)

    depths: list[int] = []

    class SpyAhead(parallel.Ahead[Any]):
        def __init__(self, items: Any, depth: int) -> None:
            depths.append(depth)
            super().__init__(items, depth)

    monkeypatch.setattr(load_module._FileLoader, "open", spy_open)
    monkeypatch.setattr(StagingBatch, "merge", spy_merge)
    monkeypatch.setattr(load_module, "Ahead", SpyAhead)
    (tmp_path / "run").mkdir()
    together = load(conn, names, tmp_path / "run").files
    # Ahead by bytes of lines: 256 blocks of 1 MiB here, as many 4 KiB ranges in workers.
    block = jsonl_workers.RANGE_BYTES if workers > 1 else 1 << 20
    assert depths == [load_module.PARSE_AHEAD_BYTES // block] * 2
    # Each next file was opened, its parse begun, before the file before it merged.
    assert events == [
        "open 2sets.jsonl",
        "open bad_lines.jsonl ahead",
        "merge",
        "open kpop.jsonl ahead",
        "merge",
        "merge",
    ]

    def outcome(result: Any) -> dict[str, Any]:  # where its rejects went aside
        return {k: v for k, v in result.as_dict().items() if k != "rejects_file"}

    assert [outcome(r) for r in together] == [outcome(r) for r in alone]
    assert (tmp_path / "run" / "bad_lines.jsonl.rejects.jsonl").read_text() == rejects_alone


def test_a_corrupt_compressed_file_rolls_back_alone_and_exits_65(
    conn: Connection, tmp_path: Path
) -> None:
    packed = gzip.compress((TWARC / "2sets.jsonl").read_bytes() * 4)  # 3 MB of pages
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(packed[: len(packed) * 2 // 3])  # its start looks fine: the end is missing
    with pytest.raises(LoadAborted) as caught:
        load(conn, [TWARC / "two_tweets.jsonl", cut, TWARC / "brexit.jsonl"], tmp_path)
    assert caught.value.exit_code == ExitCode.DATA_ERROR
    assert caught.value.message == f"{cut}: corrupt gzip data (it ends too early: truncated?)"
    assert [r.committed for r in caught.value.report.files] == [True, False]
    assert len(table(conn)) == 1  # two_tweets.jsonl's one retweet, nothing of cut.jsonl.gz


def test_a_compressed_binary_file_is_refused_before_anything_is_loaded(
    conn: Connection, tmp_path: Path
) -> None:
    path = tmp_path / "noise.zst"
    path.write_bytes(COMPRESSORS[Compression.ZSTD]((BAD / "binary.dat").read_bytes()))
    with pytest.raises(LoadAborted, match="noise.zst looks binary") as caught:
        load(conn, [TWARC / "brexit.jsonl", path], tmp_path)
    assert caught.value.exit_code == ExitCode.DATA_ERROR
    assert caught.value.report.files == [] and table(conn) == set()


def test_workers_resolve_authors_from_earlier_lines_across_chunks(
    conn: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page that names tweet 500's author is in one chunk, its retweeted_by pages in later ones."""
    page = {
        "data": [
            {
                "id": "1",
                "author_id": "30",
                "referenced_tweets": [{"type": "retweeted", "id": "500"}],
            }
        ],
        "includes": {"tweets": [{"id": "500", "author_id": "5"}]},
    }
    filler = (TWARC / "kpop.jsonl").read_bytes()  # bigger than a chunk below
    path = tmp_path / "mixed.jsonl.gz"
    path.write_bytes(
        gzip.compress(
            json.dumps(page).encode() + b"\n" + filler + (BAD / "retweeted_by.jsonl").read_bytes()
        )
    )
    monkeypatch.setattr(parallel, "SERIAL_BYTES", 0)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 64 * 1024)
    monkeypatch.setenv(parallel.WORKERS_ENV, "2")
    pools = count_pools(monkeypatch)
    result = load(conn, [path], tmp_path).files[0]
    assert pools == [2]  # the parse ran in two worker processes
    assert result.skipped[AUTHOR_UNKNOWN] == 2  # tweet 600's author is nowhere
    assert {(500, 30, 5), (500, 21, 5), (500, 22, 5)} <= table(conn)


@pytest.mark.parametrize("ranged", [False, True], ids=["lines-shipped", "ranges-read-by-workers"])
def test_the_parse_in_workers_keeps_one_copy_per_file_and_the_same_rows(
    conn: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ranged: bool
) -> None:
    path = tmp_path / "captures.jsonl"
    path.write_bytes(b"".join((TWARC / n).read_bytes() for n in ("2sets.jsonl", "kpop.jsonl")))
    copies: list[int] = []
    real_copy = StagingBatch.copy

    def counting_copy(self: StagingBatch, rows: Any) -> Any:
        copies.append(1)
        return real_copy(self, rows)

    monkeypatch.setattr(StagingBatch, "copy", counting_copy)
    monkeypatch.setenv(parallel.WORKERS_ENV, "1")
    serial = load(conn, [path], tmp_path).files[0]
    serial_copies, loaded = len(copies), table(conn)
    conn.execute("TRUNCATE retweets, users")
    conn.commit()
    copies.clear()
    monkeypatch.setenv(parallel.WORKERS_ENV, "2")
    monkeypatch.setattr(parallel, "SERIAL_BYTES", 0)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 4096)  # a chunk a line, all in workers
    # an uncompressed file is read by the workers in ranges from RANGED_MIN_BYTES on
    monkeypatch.setattr(load_module, "RANGED_MIN_BYTES", 0 if ranged else 1 << 40)
    monkeypatch.setattr(jsonl_workers, "RANGE_BYTES", 4096)
    planned = spy_file_blocks(monkeypatch)
    pools = count_pools(monkeypatch)
    workers = load(conn, [path], tmp_path).files[0]
    assert pools == [2]
    assert planned == ([path.stat().st_size] if ranged else [])
    assert serial_copies == len(copies) == 1  # one COPY a file, wherever the parse ran
    assert table(conn) == loaded and len(loaded) > 0
    assert (workers.records, workers.seen, workers.added, workers.users, workers.skipped) == (
        serial.records,
        serial.seen,
        serial.added,
        serial.users,
        serial.skipped,
    )


# -- the command under a terminal ------------------------------------------------


def run_in_terminal(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """`retweetctl ARGS` with stderr on a pseudo-terminal: exit code, stdout, terminal bytes."""
    run = run_on_terminal(args, {**env, "TERM": "xterm"}, on="stderr", columns=120, cwd=cwd)
    return run.exit_code, run.stdout, run.screen.decode(errors="replace")


def test_the_bar_shows_bytes_then_the_merge_under_a_terminal(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "brexit.jsonl.xz"
    path.write_bytes(lzma.compress((TWARC / "brexit.jsonl").read_bytes()))
    code, stdout, screen = run_in_terminal(["load", str(path)], cli_env, tmp_path)
    assert code == ExitCode.OK, screen
    assert stdout.startswith(f"{path}: 67 of 67 records added")
    reading = screen.index("brexit.jsonl.xz ")
    merging = screen.index("brexit.jsonl.xz: merging 67 rows…")
    assert reading < merging
    assert f"/{path.stat().st_size / 1000:.1f} kB" in screen[:merging]  # the compressed size


def visible(screen: str) -> str:
    """The terminal's bytes without escape sequences (colours, cursor moves, erases)."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)


def test_a_failed_load_says_so_on_lines_of_their_own_after_the_bar(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    # stdout and stderr on one terminal, as at a prompt: the summary used to be glued
    # to the end of the still-drawn bar (`…? -:--:--bad.jsonl: 0 of 0 records added`).
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes((TWARC / "brexit.jsonl").read_bytes() + b"{not json\n")
    run = run_on_terminal(
        ["load", "--strict", str(bad)], cli_env, on="both", columns=80, cwd=tmp_path
    )
    assert run.exit_code == ExitCode.DATA_ERROR
    text = visible(run.screen.decode(errors="replace"))
    summary = text.index(f"{bad}: 0 of 0 records added (rolled back)")
    assert text[summary - 1] in "\r\n", repr(text[summary - 80 : summary + 10])
    assert "bad.jsonl line 2: invalid JSON" in text[summary:]


def test_a_lone_input_that_fails_its_check_prints_no_summary(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.jsonl"
    result = run_cli(["load", str(missing)], cli_env)
    assert result.exit_code == ExitCode.NO_INPUT
    assert result.stdout == ""  # nothing was read: the one error line says it all
    assert (
        result.stderr.strip()
        == f"retweetctl: error: cannot read {missing}: No such file or directory"
    )
    as_json = json.loads(run_cli(["load", "--json", str(missing)], cli_env).stdout)
    assert (as_json["files"], as_json["total"]["committed"]) == ([], False)


def test_counts_in_the_summary_have_thousands_separators(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    rows = tmp_path / "rows.csv"
    lines = [f"{900 + r % 3},{r},{800 + r % 3}" for r in range(1, 1501)]
    rows.write_text("tweet_id,retweeter_id,author_id\n" + "\n".join(lines) + "\n")
    result = run_cli(["load", str(rows)], cli_env)
    assert result.exit_code == ExitCode.OK, result.stderr
    assert result.stdout.splitlines()[0] == f"{rows}: 1,500 of 1,500 records added"


def test_a_finished_file_leaves_no_merging_line_while_the_next_loads() -> None:
    from rich.console import Console

    from retweetctl.commands.load_progress import LoadProgress

    console = Console(file=io.StringIO(), force_terminal=True, width=80)
    with LoadProgress(console) as progress:
        progress.for_file("a.jsonl", 1000)(1000)
        progress.merging("a.jsonl", 78)
        assert [t.description for t in progress.bar.tasks] == ["a.jsonl: merging 78 rows…"]
        progress.for_file("b.jsonl", 2000)(10)
        assert [t.description for t in progress.bar.tasks] == ["b.jsonl"]
        progress.merging("b.jsonl", 5)
        shown = progress.bar.columns[2].render(progress.bar.tasks[0])  # bytes read
    assert shown == ""  # a merging line shows its rows, not "540.6/? MB"


def test_csv_forced_on_a_jsonl_file_says_what_it_is(cli_env: dict[str, str]) -> None:
    result = run_cli(["load", "--format", "csv", str(TWARC / "brexit.jsonl")], cli_env)
    assert result.exit_code == ExitCode.DATA_ERROR
    assert result.stderr.splitlines()[-1] == (
        f"retweetctl: error: {TWARC / 'brexit.jsonl'} starts like JSONL, not CSV with a header"
        " naming tweet_id,retweeter_id,author_id: load it without --format csv"
    )


def test_the_bar_leaves_room_for_the_ctrl_c_a_terminal_echoes(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    # A bar as wide as the terminal made the echoed ^C wrap to a new line, and the bar's
    # erase at exit then missed it: after Ctrl-C the bar stayed on screen for good.
    path = tmp_path / ("a-collection-with-a-long-descriptive-name-" + "x" * 30 + ".jsonl")
    path.write_bytes((TWARC / "brexit.jsonl").read_bytes())
    run = run_on_terminal(["load", str(path)], cli_env, on="stderr", columns=80, cwd=tmp_path)
    assert run.exit_code == ExitCode.OK
    drawn = [
        line
        for line in re.split(r"[\r\n]", visible(run.screen.decode(errors="replace")))
        if "━" in line
    ]
    assert drawn, "no bar was drawn"  # a name this long once took the bar's place
    assert max(map(len, drawn)) <= 78, drawn
    reading = [line for line in drawn if "merging" not in line]
    assert reading and all("a-collection-w…" in line and "/356.5 kB" in line for line in reading)


def test_load_from_a_terminal_says_how_to_end_and_ends_at_the_first_ctrl_d(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    row = b"tweet_id,retweeter_id,author_id\r901,11,801\r"  # typed: Enter sends \r
    run = run_on_terminal(
        ["load", "-"],
        cli_env,
        on="both",
        cwd=tmp_path,
        typed=row + b"\x04",  # one Ctrl-D
    )
    assert run.exit_code == ExitCode.OK
    text = visible(run.screen.decode(errors="replace"))
    assert text.startswith("reading standard input: paste or type JSONL or CSV lines, then Ctrl-D")
    assert "-: 1 of 1 records added" in text


def test_debug_says_where_each_file_is_parsed_and_what_each_step_took(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("tweet_id,retweeter_id,author_id\n905,1,805\n905,2,805\n")
    pages = TWARC / "noflat.jsonl"
    result = run_cli(["--debug", "load", str(rows), str(pages)], cli_env)
    assert result.exit_code == ExitCode.OK, result.stderr
    said = [line.split(":", 2)[2] for line in result.stderr.splitlines() if "retweetctl." in line]
    steps = [re.sub(r", [0-9]+\.[0-9]{2} s", ", T s", line) for line in said]
    assert [line for line in steps if line.startswith(str(rows))] == [
        f"{rows}: csv, parsed in this process",
        f"{rows}: 2 lines read and parsed, 2 rows COPYed to staging, T s",
        f"{rows}: 0 users written, T s",
        f"{rows}: merge: 2 of 2 rows added, T s",
        f"{rows}: committed, T s",
    ]
    assert [line for line in steps if line.startswith(str(pages))] == [
        f"{pages}: twarc, parsed in this process, begun while the input before it merged",
        f"{pages}: 1 line read and parsed, 47 rows COPYed to staging, T s",
        f"{pages}: 178 users written, T s",
        f"{pages}: merge: 47 of 47 rows added, T s",
        f"{pages}: committed, T s",
    ]
    # The first file folded in the background or with the second, at the end: 49 in all.
    folds = [
        re.fullmatch(r"matrix catch-up: (\d+) deltas folded, \d+ new cells, T s \(.*\)", line)
        for line in steps
        if line.startswith("matrix")
    ]
    assert folds and all(folds)
    assert sum(int(m.group(1)) for m in folds if m) == 49


def test_a_directory_among_the_inputs_stops_the_run_before_anything_loads(
    cli_env: dict[str, str], tmp_path: Path, conn: Connection
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("tweet_id,retweeter_id,author_id\n906,1,806\n")
    folder = tmp_path / "day1"
    folder.mkdir()
    result = run_cli(["load", str(good), str(folder)], cli_env)
    assert result.exit_code == ExitCode.NO_INPUT
    assert result.stderr.strip() == (
        f"retweetctl: error: cannot read {folder}: a directory;"
        f" give the files in it ({folder}/*.jsonl, say)"
    )
    assert conn.execute("SELECT count(*) FROM retweets").fetchone() == (0,)


def test_debug_at_a_terminal_draws_no_bar_over_its_log(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    pages = TWARC / "noflat.jsonl"
    run = run_on_terminal(["--debug", "load", str(pages)], cli_env, on="stderr", cwd=tmp_path)
    assert run.exit_code == ExitCode.OK
    text = visible(run.screen.decode(errors="replace"))
    assert "━" not in text  # the bar: its log lines say how the load goes
    logged = [line for line in re.split(r"[\r\n]+", text) if "retweetctl.load" in line]
    assert len(logged) == 5 and all(line.startswith("DEBUG:retweetctl.load:") for line in logged)
