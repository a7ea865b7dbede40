"""twarc2 / X API v2 JSONL parsed a chunk of lines at a time, in worker processes when large.

The same lines, line numbers, rejects and order as readers.JsonlReader; only
where the parse runs differs (retweetctl.parallel decides).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, NamedTuple

from retweetctl.parallel import Chunk, parse_stream
from retweetctl.readers import BadLine, Parsed, Reject, parse_json_line, raw_text

__all__ = ["ChunkedJsonlReader", "parse_json_chunk"]


class BadLineAt(NamedTuple):
    """A rejected line as a worker returns it (the input's name is added by the reader)."""

    line: int
    reason: str
    detail: str
    raw: str


class ChunkResult(NamedTuple):
    size: int  # bytes of the chunk
    records: int  # non-blank lines
    lines: list[Parsed | BadLineAt]  # in input order


def parse_json_chunk(chunk: Chunk) -> ChunkResult:
    """Parse every non-blank line of a chunk; runs in a worker process."""
    out: list[Parsed | BadLineAt] = []
    records = 0
    # lines as iterating the input stream gives them (ending in b"\n"), so numbers and details agree
    for number, line in enumerate(io.BytesIO(chunk.data), start=chunk.first_line):
        if not line.strip():
            continue
        records += 1
        try:
            out.append(parse_json_line(line))
        except BadLine as bad:
            out.append(BadLineAt(number, bad.reason, bad.detail, raw_text(line)))
    return ChunkResult(len(chunk.data), records, out)


@dataclass
class ChunkedJsonlReader:
    """Parsed lines of a JSONL stream; bad lines go to on_reject (as readers.JsonlReader)."""

    stream: IO[bytes]
    name: str
    on_reject: Callable[[Reject], None]
    on_progress: Callable[[int], None] | None = None
    records: int = 0
    workers: int | None = None

    def lines(self) -> Iterator[Parsed]:
        position = 0
        for result in parse_stream(self.stream, parse_json_chunk, workers=self.workers):
            self.records += result.records
            for item in result.lines:
                if isinstance(item, BadLineAt):
                    self.on_reject(Reject(self.name, *item))
                else:
                    yield item
            position += result.size
            if self.on_progress is not None:
                self.on_progress(position)
        if self.on_progress is not None:
            self.on_progress(position)
