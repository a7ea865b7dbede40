"""The input formats `load` reads: one enum, one table of readers, one detector.

A format is one entry in READERS: its reader turns a binary stream into Parsed
records (Retweet rows, users, skips) and sends malformed lines to on_reject.
Adding a format, or changing how one is decoded, is one entry here (as
sqlite-utils does with its Format enum and rows_from_file).
"""

from __future__ import annotations

import codecs
import enum
from collections.abc import Callable, Iterator
from typing import IO, Protocol

from retweetctl.readers.common import Parsed, Reject, UnusableInput
from retweetctl.readers.csvrows import CsvReader
from retweetctl.readers.jsonl import JsonlReader

__all__ = ["READERS", "SNIFF_BYTES", "Format", "Reader", "detect", "open_reader"]

# Enough of a file's start to tell binary from text and JSON from CSV.
SNIFF_BYTES = 8192
GZIP_MAGIC = b"\x1f\x8b"
# Text has almost no control bytes; compressed or binary data has about 1 in 8.
# A stray NUL in a text file stays far below this and is rejected line by line.
BINARY_CONTROL_SHARE = 0.05
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f")


class Format(enum.Enum):
    """An input format; its value is its name on the command line and in summaries."""

    TWARC = "twarc"  # twarc2 / X API v2 JSONL: API pages, flattened tweets or users
    CSV = "csv"  # tweet_id,retweeter_id,author_id[,retweet_id][,retweeted_at]


class Reader(Protocol):
    """Iterating gives Parsed records; records counts the input records read so far."""

    records: int

    def __iter__(self) -> Iterator[Parsed]: ...


ReaderFactory = Callable[
    [IO[bytes], str, Callable[[Reject], None], Callable[[int], None] | None], Reader
]

READERS: dict[Format, ReaderFactory] = {
    Format.TWARC: JsonlReader,
    Format.CSV: CsvReader,
}


def detect(head: bytes, name: str) -> Format | None:
    """The format of an input from its first bytes; None if it is empty (blank).

    UnusableInput for binary or compressed input.
    """
    if not head.strip():
        return None
    if head.startswith(GZIP_MAGIC):
        # load decompresses one layer (retweetctl/inputs.py): this is gzip inside gzip
        raise UnusableInput(f"{name} is compressed twice (gzip inside its compression)")
    if _control_share(head) > BINARY_CONTROL_SHARE:
        raise UnusableInput(f"{name} looks binary (control bytes near its start), not JSONL or CSV")
    if head.lstrip(codecs.BOM_UTF8 + b" \t\r\n").startswith(b"{"):
        return Format.TWARC
    return Format.CSV


def _control_share(head: bytes) -> float:
    # translate() deleting the control bytes is a C loop: the share is what went missing
    return (len(head) - len(head.translate(None, _CONTROL_BYTES))) / len(head)


def open_reader(
    stream: IO[bytes],
    name: str,
    fmt: Format,
    on_reject: Callable[[Reject], None],
    on_progress: Callable[[int], None] | None = None,
) -> Reader:
    """The reader of fmt on stream (its records as Parsed, malformed lines to on_reject)."""
    return READERS[fmt](stream, name, on_reject, on_progress)
