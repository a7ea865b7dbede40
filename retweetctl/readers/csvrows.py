"""CSV: a header naming tweet_id, retweeter_id, author_id (any order, other columns ignored).

Optional columns retweet_id and retweeted_at (ISO 8601 with a UTC offset) give
each retweet's own id and time; the header decides, and an empty field is
unknown (NULL). rows are the hot path of a large load: an unquoted line is
split as bytes and its ids checked with bytes.isdigit() (ASCII digits only, so
no decoding); only lines with quotes go through the csv module, and only bad
records take the slow path to on_reject.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from retweetctl.ids import MAX_ID, MAX_ID_DIGITS
from retweetctl.readers.common import (
    INVALID_CSV,
    INVALID_TIME,
    WRONG_FIELD_COUNT,
    BadLine,
    Parsed,
    ReaderInput,
    Reject,
    UnusableInput,
    parse_id,
    parse_time,
    raw_text,
)
from retweetctl.rows import Retweet, Row

__all__ = ["CSV_COLUMNS", "MAX_RECORD_LINES", "OPTIONAL_COLUMNS", "CsvReader"]

CSV_COLUMNS = ("tweet_id", "retweeter_id", "author_id")
OPTIONAL_COLUMNS = ("retweet_id", "retweeted_at")
# A quoted CSV field spanning more lines than this is taken as an unclosed quote.
MAX_RECORD_LINES = 100
# Rows handed on (and progress reported) every this many records: often enough for a
# bar, rarely enough to cost nothing.
CSV_BATCH_ROWS = 16384


@dataclass
class CsvReader(ReaderInput):
    """Parsed batches of rows of a CSV file; bad records go to on_reject."""

    def __iter__(self) -> Iterator[Parsed]:
        batch: list[Row] = []
        for row in self.rows():
            batch.append(row)
            if len(batch) >= CSV_BATCH_ROWS:
                yield Parsed(rows=batch)
                batch = []
                self._report()
        if batch:
            yield Parsed(rows=batch)
        self._report()

    def _report(self) -> None:
        if self.on_progress is not None and self.stream.seekable():
            self.on_progress(self.stream.tell())

    def rows(self) -> Iterator[Row]:
        header = self._header(self.stream.readline())
        width = len(header)
        t_at, r_at, a_at = (header.index(column) for column in CSV_COLUMNS)
        id_at, time_at = (
            header.index(column) if column in header else None for column in OPTIONAL_COLUMNS
        )
        details = id_at is not None or time_at is not None
        lines = enumerate(self.stream, start=2)
        not_records = 0  # blank lines and the continuation lines of quoted multi-line records
        line_no = 1
        for line_no, line in lines:
            fields = line.rstrip(b"\r\n").split(b",")
            if len(fields) == width and b'"' not in line:  # quotes: the csv module decides
                t = fields[t_at]
                r = fields[r_at]
                a = fields[a_at]
                if (
                    t.isdigit()
                    and r.isdigit()
                    and a.isdigit()
                    # int() refuses more than 4300 digits: longer fields take the slow path
                    and len(t) + len(r) + len(a) <= 3 * MAX_ID_DIGITS
                ):
                    tv = int(t)
                    rv = int(r)
                    av = int(a)
                    if 0 < tv <= MAX_ID and 0 < rv <= MAX_ID and 0 < av <= MAX_ID:
                        if not details:
                            yield (tv, rv, av)
                            continue
                        extra = _fast_details(fields, id_at, time_at)
                        if extra is not None:
                            yield Retweet(tv, rv, av, *extra)
                            continue
            if not line.strip():
                not_records += 1
                continue
            first = line_no
            record = line
            # a quoted field may hold line breaks: read on until it is closed
            ended = False
            while (still_open := _open_quote(record)) and line_no - first < MAX_RECORD_LINES:
                try:
                    line_no, more = next(lines)
                except StopIteration:
                    ended = True
                    break
                record += more
                not_records += 1
            if still_open:
                where = (
                    "by the end of the input" if ended else f"within {MAX_RECORD_LINES + 1} lines"
                )
                detail = f"a quoted field is not closed {where}"
                self._reject(first, INVALID_CSV, detail, record)
                continue
            row = self._slow_row(first, record, width, (t_at, r_at, a_at, id_at, time_at))
            if row is not None:
                yield row
        self.records = line_no - 1 - not_records

    def _slow_row(
        self,
        line_no: int,
        record: bytes,
        width: int,
        at: tuple[int, int, int, int | None, int | None],
    ) -> Row | None:
        """The row of a record the fast path did not take (quoted, or bad); None if rejected."""
        text = record.decode("utf-8", "surrogateescape")
        try:
            fields = next(csv.reader([text]), [])
        except csv.Error as exc:
            self._reject(line_no, INVALID_CSV, str(exc), record)
            return None
        if len(fields) != width:
            detail = f"{len(fields)} fields, the header has {width}"
            self._reject(line_no, WRONG_FIELD_COUNT, detail, record)
            return None
        try:
            ids = (
                parse_id(fields[at[0]], "tweet_id"),
                parse_id(fields[at[1]], "retweeter_id"),
                parse_id(fields[at[2]], "author_id"),
            )
            if at[3] is None and at[4] is None:
                return ids
            return Retweet(
                *ids,
                None
                if at[3] is None or not fields[at[3]]
                else parse_id(fields[at[3]], "retweet_id"),
                None if at[4] is None else _time(fields[at[4]]),
            )
        except BadLine as bad:
            self._reject(line_no, bad.reason, bad.detail, record)
            return None

    def _header(self, line: bytes) -> list[str]:
        text = line.decode("utf-8-sig", "replace")
        try:
            header = [column.strip().lower() for column in next(csv.reader([text]), [])]
        except csv.Error:
            header = []
        missing = [column for column in CSV_COLUMNS if column not in header]
        if missing and text.lstrip().startswith("{"):  # --format csv given a JSONL file
            raise UnusableInput(
                f"{self.name} starts like JSONL, not CSV with a header naming "
                f"{','.join(CSV_COLUMNS)}: load it without --format csv"
            )
        if missing:
            raise UnusableInput(
                f"{self.name} is neither JSONL nor CSV with a header naming "
                f"{','.join(CSV_COLUMNS)} (missing: {', '.join(missing)})"
            )
        return header

    def _reject(self, line: int, reason: str, detail: str, record: bytes) -> None:
        self.on_reject(Reject(self.name, line, reason, detail, raw_text(record)))


def _fast_details(
    fields: list[bytes], id_at: int | None, time_at: int | None
) -> tuple[int | None, datetime | None] | None:
    """(retweet_id, retweeted_at) of an unquoted line, or None for the slow path to decide."""
    retweet_id = None
    when = None
    if id_at is not None and fields[id_at]:
        value = fields[id_at]
        if not value.isdigit() or len(value) > MAX_ID_DIGITS:
            return None
        retweet_id = int(value)
        if not 0 < retweet_id <= MAX_ID:
            return None
    if time_at is not None and fields[time_at]:
        when = parse_time(fields[time_at].decode("utf-8", "replace"))
        if when is None:
            return None
    return retweet_id, when


def _time(text: str) -> datetime | None:
    """An optional retweeted_at field: empty is unknown, anything else must be a time."""
    if not text:
        return None
    when = parse_time(text)
    if when is None:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise BadLine(
            INVALID_TIME, f"retweeted_at {shown!r} is not an ISO 8601 time with a UTC offset"
        )
    return when


def _open_quote(record: bytes) -> bool:
    """Whether the record ends inside a quoted field (so its next line belongs to it)."""
    if not record.count(b'"') % 2:  # cheap: balanced quotes never leave a field open
        return False
    try:
        for _ in csv.reader([record.decode("utf-8", "surrogateescape")], strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False
