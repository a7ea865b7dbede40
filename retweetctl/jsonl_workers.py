"""twarc2 / X API v2 JSONL parsed in worker processes: a BlockSource for readers.JsonlReader.

readers.parse_block does the work (pure, picklable result, lines in order);
retweetctl.parallel decides where it runs (in this process for the first
SERIAL_BYTES, then in workers if cores are idle) and keeps the blocks in input
order, so the records, rejects and their order are those of serial_blocks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import IO

from retweetctl.parallel import Chunk, parse_stream
from retweetctl.readers import JsonlBlock, parse_block

__all__ = ["parallel_blocks", "parse_chunk"]


def parse_chunk(name: str, chunk: Chunk) -> JsonlBlock:
    """One chunk of whole lines parsed; runs in a worker process."""
    return parse_block(chunk.data, name, chunk.first_line)


def parallel_blocks(stream: IO[bytes], name: str) -> Iterator[JsonlBlock]:
    """The stream's JsonlBlocks in input order, parsed in workers once the input is large."""
    return parse_stream(stream, functools.partial(parse_chunk, name))
