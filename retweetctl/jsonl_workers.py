"""twarc2 / X API v2 JSONL parsed in worker processes: BlockSources for readers.JsonlReader.

readers.parse_block does the work (pure, picklable result, lines in order);
retweetctl.parallel runs it in workers and keeps the blocks in input order, so
the records, rejects and their order are those of serial_blocks. Two ways:

- parallel_blocks (any stream: a pipe, a compressed file): this process reads
  the lines and ships them to the workers. Shipping 1 MiB of lines costs about
  what parsing it does, so on two cores it barely pays (see parallel.CHUNK_BYTES).
- file_blocks (an uncompressed regular file): each worker reads its own byte
  range of the file, so only the parsed records cross between processes (about a
  twentieth of the bytes of real twarc2 pages).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterator
from typing import IO, NamedTuple

from retweetctl import parallel
from retweetctl.errors import TemporaryFailure
from retweetctl.parallel import DEPTH_PER_WORKER, Chunk, parse_stream, worker_count
from retweetctl.readers import JsonlBlock, parse_block
from retweetctl.readers.jsonl import BlockSource, read_blocks

__all__ = [
    "RANGE_BYTES",
    "FileChanged",
    "FileIdentity",
    "file_blocks",
    "parallel_blocks",
    "parse_chunk",
    "parse_range",
]

# Bytes of a file a worker parses at a time (about 1,000 tweets of real twarc2 pages).
# Small enough that two workers stay busy to the end and a result is a few MB.
RANGE_BYTES = 4 << 20


class FileChanged(TemporaryFailure):
    """The file was replaced while it loaded (a worker opened another file): exit 75, retry."""


class FileIdentity(NamedTuple):
    """An opened regular file: its path, and its device and inode to check a worker opens it."""

    path: str
    device: int
    inode: int


class RangeBlock(NamedTuple):
    block: JsonlBlock  # its rejects numbered from 1: the caller knows the lines before
    end: int  # the offset just past the range's last line (past `end` if a line crossed it)


def parse_chunk(name: str, chunk: Chunk) -> JsonlBlock:
    """One chunk of whole lines parsed; runs in a worker process."""
    return parse_block(chunk.data, name, chunk.first_line)


def parallel_blocks(
    stream: IO[bytes], name: str, workers: int | None = None
) -> Iterator[JsonlBlock]:
    """The stream's JsonlBlocks in input order, parsed in workers once the input is large
    (workers: how many; None: worker_count())."""
    return parse_stream(stream, functools.partial(parse_chunk, name), workers=workers)


def parse_range(file: FileIdentity, name: str, span: tuple[int, int]) -> RangeBlock:
    """The lines of file that start in [start, end), parsed; runs in a worker process.

    A line begun before start belongs to the range before; the last line is read to
    its end, past `end` if it crosses it. So ranges that tile the file give every
    line once."""
    start, end = span
    with open(file.path, "rb") as f:
        info = os.fstat(f.fileno())
        if (info.st_dev, info.st_ino) != (file.device, file.inode):
            raise FileChanged(f"{name} was replaced while it loaded; nothing of it was stored")
        if start > 0:
            f.seek(start - 1)
            if f.read(1) != b"\n":
                f.readline()
        position = f.tell()
        data = f.read(end - position) if position < end else b""
        if data and not data.endswith(b"\n"):
            data += f.readline()
    return RangeBlock(parse_block(data, name, 1), position + len(data))


def file_blocks(file: FileIdentity, size: int, workers: int | None = None) -> BlockSource:
    """A BlockSource parsing the first `size` bytes of file in workers, a range each, then
    the rest (what was appended since) in this process; the stream given is not read."""

    def blocks(stream: IO[bytes], name: str) -> Iterator[JsonlBlock]:
        count = worker_count() if workers is None else workers
        spans = ((start, min(start + RANGE_BYTES, size)) for start in range(0, size, RANGE_BYTES))
        parse = functools.partial(parse_range, file, name)
        line = 1
        end = 0
        for ranged in parallel.ordered_map(parse, spans, count, count * DEPTH_PER_WORKER):
            yield _numbered(ranged.block, line)
            line += ranged.block.lines
            end = max(end, ranged.end)
        with open(file.path, "rb") as rest:
            rest.seek(end)
            for data in read_blocks(rest):
                block = parse_block(data, name, line)
                line += block.lines
                yield block

    return blocks


def _numbered(block: JsonlBlock, first_line: int) -> JsonlBlock:
    """block's rejects numbered as lines of the file (they were numbered from 1)."""
    if first_line > 1 and block.rejects:
        block.rejects = [
            dataclasses.replace(reject, line=reject.line + first_line - 1)
            for reject in block.rejects
        ]
    return block
