"""Streaming parsers for `load`: each input format is one reader (see formats.READERS).

Nothing here touches the database. Readers work on a binary stream, so memory
stays flat whatever the file size; every id is checked to be a positive
64-bit integer here because COPY would abort on the first bad one. All readers
give the same record kind, Parsed: retweetctl.ingest.Retweet rows, users and
skips; malformed lines go to on_reject as Reject.

For parallel parsing, parse_block(block, name, first_line) -> JsonlBlock is a pure
function over a block of whole JSONL lines (read_blocks cuts them) with a
picklable result; JsonlReader(..., blocks=...) takes any BlockSource that yields
those results in input order (serial_blocks parses in this process).
"""

from __future__ import annotations

from retweetctl.readers.common import (
    AUTHOR_UNKNOWN,
    ID_OUT_OF_RANGE,
    INVALID_CSV,
    INVALID_ID,
    INVALID_JSON,
    INVALID_TIME,
    INVALID_UTF8,
    MALFORMED,
    MAX_ID,
    MISSING_ID,
    NOT_AN_OBJECT,
    ORIGINAL_NOT_IN_INCLUDES,
    UNRECOGNISED,
    WRONG_FIELD_COUNT,
    BadLine,
    Parsed,
    Reject,
    UnusableInput,
    clean_text,
    parse_id,
    parse_time,
    raw_text,
)
from retweetctl.readers.csvrows import CSV_COLUMNS, MAX_RECORD_LINES, OPTIONAL_COLUMNS, CsvReader
from retweetctl.readers.formats import (
    READERS,
    SNIFF_BYTES,
    Format,
    Reader,
    detect,
    open_reader,
)
from retweetctl.readers.jsonl import (
    BLOCK_BYTES,
    BlockSource,
    JsonlBlock,
    JsonlReader,
    parse_block,
    parse_json_line,
    parse_json_line_reference,
    read_blocks,
    serial_blocks,
)

__all__ = [
    "AUTHOR_UNKNOWN",
    "BLOCK_BYTES",
    "BlockSource",
    "CSV_COLUMNS",
    "ID_OUT_OF_RANGE",
    "INVALID_CSV",
    "INVALID_ID",
    "INVALID_JSON",
    "INVALID_TIME",
    "INVALID_UTF8",
    "MALFORMED",
    "MAX_ID",
    "MAX_RECORD_LINES",
    "MISSING_ID",
    "NOT_AN_OBJECT",
    "OPTIONAL_COLUMNS",
    "ORIGINAL_NOT_IN_INCLUDES",
    "READERS",
    "SNIFF_BYTES",
    "UNRECOGNISED",
    "WRONG_FIELD_COUNT",
    "BadLine",
    "CsvReader",
    "Format",
    "JsonlBlock",
    "JsonlReader",
    "Parsed",
    "Reader",
    "Reject",
    "UnusableInput",
    "clean_text",
    "detect",
    "open_reader",
    "parse_block",
    "parse_id",
    "parse_json_line",
    "parse_json_line_reference",
    "parse_time",
    "raw_text",
    "read_blocks",
    "serial_blocks",
]
