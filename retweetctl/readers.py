"""Streaming parsers for `load`: twarc2 / X API v2 JSONL and CSV, validated before COPY.

Nothing here touches the database. Readers work line by line on a binary
stream, so memory stays flat whatever the file size; every id is checked to be
a positive 64-bit integer here because COPY would abort on the first bad one.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from retweetctl.ids import MAX_ID, MAX_ID_DIGITS, is_id_text, parse_id_text
from retweetctl.ingest import Row, User

# PostgreSQL bigint; ids are positive (the tables check id > 0).
CSV_COLUMNS = ("tweet_id", "retweeter_id", "author_id")
# A quoted CSV field spanning more lines than this is taken as an unclosed quote.
MAX_RECORD_LINES = 100
# Enough of a file's start to tell binary from text and JSON from CSV.
SNIFF_BYTES = 8192
# Report progress every this many CSV records: often enough for a bar, rarely enough to cost nothing.
CSV_PROGRESS_EVERY = 16384
# JSONL progress is reported after this many bytes: a redraw per flattened line would cost more than the line.
PROGRESS_STEP_BYTES = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
# Text has almost no control bytes; compressed or binary data has about 1 in 8.
# A stray NUL in a text file stays far below this and is rejected line by line.
BINARY_CONTROL_SHARE = 0.05
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f")
RETWEETED_BY_URL = re.compile(r"/2/tweets/(\d+)/retweeted_by")

# Skip reasons: input that is well-formed but cannot give a row.
ORIGINAL_NOT_IN_INCLUDES = "original tweet not in includes"
AUTHOR_UNKNOWN = "author of the retweeted tweet unknown (use --author)"

# Reject reasons: malformed input. Short and fixed, so they can be counted.
INVALID_JSON = "invalid JSON"
INVALID_UTF8 = "invalid UTF-8"
NOT_AN_OBJECT = "not a JSON object"
UNRECOGNISED = "not a twarc or X API v2 object"
MALFORMED = "malformed page"
MISSING_ID = "missing id"
INVALID_ID = "invalid id"
ID_OUT_OF_RANGE = "id out of range"
WRONG_FIELD_COUNT = "wrong number of fields"
INVALID_CSV = "invalid CSV"


class BadLine(Exception):
    """A line that cannot be used: reason (a fixed category) and detail."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Reject:
    """A malformed input line, as written to the rejects file."""

    input: str
    line: int
    reason: str
    detail: str
    raw: str

    def as_json(self) -> str:
        return json.dumps(
            {
                "input": self.input,
                "line": self.line,
                "reason": self.reason,
                "detail": self.detail,
                "raw": self.raw,
            },
            ensure_ascii=False,
        )


def raw_text(line: bytes) -> str:
    """A line as JSON-safe text: invalid UTF-8 bytes become \\xNN, the line break is dropped."""
    return line.decode("utf-8", "backslashreplace").rstrip("\r\n")


def parse_id(value: object, name: str) -> int:
    """A positive 64-bit id from a JSON string of ASCII digits or a JSON integer; else BadLine."""
    # type() not isinstance(): bool is an int subclass and True is no id.
    kind = type(value)
    if kind is str:
        text: str = value  # type: ignore[assignment]
        if is_id_text(text):
            parsed = parse_id_text(text)
            if parsed is not None:
                return parsed
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise BadLine(ID_OUT_OF_RANGE, f"{name} {shown} is not in 1..{MAX_ID}")
        raise BadLine(INVALID_ID, f"{name} {text!r} is not a positive integer")
    if kind is int:
        number: int = value  # type: ignore[assignment]
        if 0 < number <= MAX_ID:
            return number
        raise BadLine(ID_OUT_OF_RANGE, f"{name} {number} is not in 1..{MAX_ID}")
    if value is None:
        raise BadLine(MISSING_ID, f"{name} is missing")
    raise BadLine(INVALID_ID, f"{name} {json.dumps(value)[:40]} is not a positive integer")


def clean_text(value: object) -> str | None:
    """A username or name PostgreSQL can store (no NUL, valid UTF-8), else None."""
    if type(value) is not str:
        return None
    text: str = value
    if text.isascii():
        return None if "\x00" in text else text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from a \ud800 escape
        return None
    return None if "\x00" in text else text


# ---------------------------------------------------------------------------
# Sniffing: what kind of file is this?


class UnusableInput(Exception):
    """The file as a whole cannot be loaded (binary, compressed, unknown format)."""


def sniff(head: bytes, name: str) -> str:
    """'empty', 'twarc' or 'csv' from the first bytes; UnusableInput for binary or compressed."""
    if not head.strip():
        return "empty"
    if head.startswith(GZIP_MAGIC):
        raise UnusableInput(
            f"{name} is gzip-compressed; decompress it first, e.g. zcat {name} | retweetctl load -"
        )
    if _control_share(head) > BINARY_CONTROL_SHARE:
        raise UnusableInput(f"{name} looks binary (control bytes near its start), not JSONL or CSV")
    if head.lstrip(codecs.BOM_UTF8 + b" \t\r\n").startswith(b"{"):
        return "twarc"
    return "csv"


def _control_share(head: bytes) -> float:
    # translate() deleting the control bytes is a C loop: the share is what went missing
    return (len(head) - len(head.translate(None, _CONTROL_BYTES))) / len(head)


# ---------------------------------------------------------------------------
# CSV


@dataclass
class CsvReader:
    """Rows of a CSV with a tweet_id,retweeter_id,author_id header (other columns ignored).

    rows() is the hot path of a large load: a generator fed straight to COPY.
    An unquoted line is split as bytes and its ids checked with bytes.isdigit()
    (ASCII digits only, so no decoding); only lines with quotes go through the
    csv module, and only bad records take the slow path to on_reject.
    """

    stream: IO[bytes]
    name: str
    on_reject: Callable[[Reject], None]
    on_progress: Callable[[int], None] | None = None
    records: int = 0

    def rows(self) -> Iterator[Row]:
        header = self._header(self.stream.readline())
        width = len(header)
        t_at, r_at, a_at = (header.index(column) for column in CSV_COLUMNS)
        progress = self.on_progress
        tell = self.stream.tell if progress is not None and self.stream.seekable() else None
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
                        if tell is not None and not line_no % CSV_PROGRESS_EVERY:
                            progress(tell())  # type: ignore[misc]
                        yield (tv, rv, av)
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
            row = self._slow_row(first, record, width, (t_at, r_at, a_at))
            if row is not None:
                yield row
        self.records = line_no - 1 - not_records
        if tell is not None:
            progress(tell())  # type: ignore[misc]

    def _slow_row(
        self, line_no: int, record: bytes, width: int, at: tuple[int, int, int]
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
            return (
                parse_id(fields[at[0]], "tweet_id"),
                parse_id(fields[at[1]], "retweeter_id"),
                parse_id(fields[at[2]], "author_id"),
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
        if missing:
            raise UnusableInput(
                f"{self.name} is neither JSONL nor CSV with a header naming "
                f"{','.join(CSV_COLUMNS)} (missing: {', '.join(missing)})"
            )
        return header

    def _reject(self, line: int, reason: str, detail: str, record: bytes) -> None:
        self.on_reject(Reject(self.name, line, reason, detail, raw_text(record)))


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


# ---------------------------------------------------------------------------
# twarc2 / X API v2 JSONL


@dataclass
class Parsed:
    """What one JSONL line gives.

    rows: retweets with all three ids known. retweeted_by: (tweet_id, retweeter
    ids) from a retweeted_by page, whose author the loader must find.
    """

    rows: list[Row] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    retweeted_by: tuple[int, list[int]] | None = None


def _user(obj: object, where: str) -> User:
    if not isinstance(obj, dict):
        raise BadLine(MALFORMED, f"{where} is not an object")
    return (
        parse_id(obj.get("id"), f"{where}.id"),
        clean_text(obj.get("username")),
        clean_text(obj.get("name")),
    )


def _objects(value: object, where: str) -> list[dict[str, Any]]:
    """A list of objects (a single object counts as a list of one; absent as empty)."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise BadLine(MALFORMED, f"{where} is not a list of objects")


def _retweeted_ref(tweet: dict[str, Any]) -> dict[str, Any] | None:
    refs = tweet.get("referenced_tweets")
    if not refs:
        return None
    if not isinstance(refs, list):
        raise BadLine(MALFORMED, "referenced_tweets is not a list")
    for ref in refs:
        if isinstance(ref, dict) and ref.get("type") == "retweeted":
            return ref
    return None


def _retweeted_by_tweet(obj: dict[str, Any]) -> int | None:
    meta = obj.get("__twarc")
    url = meta.get("url") if isinstance(meta, dict) else None
    if not isinstance(url, str):
        return None
    match = RETWEETED_BY_URL.search(url)
    if match is None:
        return None
    return parse_id(match.group(1), "tweet id in __twarc.url")


def _is_user(obj: dict[str, Any]) -> bool:
    return "username" in obj and "text" not in obj


def parse_page(obj: dict[str, Any]) -> Parsed:
    """A raw API response page: data (+ includes, meta, errors)."""
    out = Parsed()
    data = _objects(obj.get("data"), "data")
    tweet_id = _retweeted_by_tweet(obj)
    if tweet_id is not None or (data and _is_user(data[0])):
        # a user page: retweeted_by, or followers and the like (usernames only)
        out.users = [_user(user, "data[]") for user in data]
        if tweet_id is not None:
            out.retweeted_by = (tweet_id, [user[0] for user in out.users])
        return out
    includes = obj.get("includes") or {}
    if not isinstance(includes, dict):
        raise BadLine(MALFORMED, "includes is not an object")
    out.users = [
        _user(user, "includes.users[]")
        for user in _objects(includes.get("users"), "includes.users")
    ]
    originals: dict[object, dict[str, Any]] | None = None
    for tweet in data:
        ref = _retweeted_ref(tweet)
        if ref is None:
            continue
        if originals is None:
            originals = {
                t.get("id"): t
                for t in _objects(includes.get("tweets"), "includes.tweets")
                if isinstance(t.get("id"), str | int)  # a list or object is no id (nor hashable)
            }
        retweeter = parse_id(tweet.get("author_id"), "author_id")
        original_id = parse_id(ref.get("id"), "referenced_tweets.id")
        original = originals.get(ref.get("id"))
        if original is None:
            out.skipped.append(ORIGINAL_NOT_IN_INCLUDES)
            continue
        author = parse_id(original.get("author_id"), "includes.tweets[].author_id")
        out.rows.append((original_id, retweeter, author))
    return out


def parse_flat_tweet(obj: dict[str, Any]) -> Parsed:
    """One tweet with its expansions inlined, as `twarc2 flatten` writes."""
    out = Parsed()
    if isinstance(obj.get("author"), dict):
        out.users.append(_user(obj["author"], "author"))
    ref = _retweeted_ref(obj)
    if ref is None:
        return out
    retweeter = parse_id(obj.get("author_id"), "author_id")
    original_id = parse_id(ref.get("id"), "referenced_tweets.id")
    if ref.get("author_id") is None:  # flatten inlines the original only when includes had it
        out.skipped.append(ORIGINAL_NOT_IN_INCLUDES)
        return out
    author = parse_id(ref.get("author_id"), "referenced_tweets.author_id")
    if isinstance(ref.get("author"), dict):
        out.users.append(_user(ref["author"], "referenced_tweets.author"))
    out.rows.append((original_id, retweeter, author))
    return out


def parse_flat_user(obj: dict[str, Any]) -> Parsed:
    """One user per line (a flattened user page)."""
    user = _user(obj, "user")
    out = Parsed(users=[user])
    tweet_id = _retweeted_by_tweet(obj)
    if tweet_id is not None:
        out.retweeted_by = (tweet_id, [user[0]])
    return out


def parse_json_line(line: bytes) -> Parsed:
    """Detect what the line holds and parse it; BadLine if it is malformed."""
    try:
        obj = json.loads(line)
    except UnicodeDecodeError as exc:
        raise BadLine(INVALID_UTF8, str(exc)) from None
    except ValueError as exc:  # JSONDecodeError, and RecursionError's cousins
        raise BadLine(INVALID_JSON, str(exc)) from None
    except RecursionError:
        raise BadLine(INVALID_JSON, "nested too deeply") from None
    if not isinstance(obj, dict):
        raise BadLine(NOT_AN_OBJECT, f"a JSON {type(obj).__name__}")
    if "data" in obj or "errors" in obj or "meta" in obj:
        return parse_page(obj)
    if "id" in obj:
        if _is_user(obj):
            return parse_flat_user(obj)
        if "text" in obj or "author_id" in obj or "referenced_tweets" in obj:
            return parse_flat_tweet(obj)
    raise BadLine(UNRECOGNISED, "no data, errors or meta; not a tweet or user")


@dataclass
class JsonlReader:
    """Parsed lines of a JSONL stream; bad lines go to on_reject."""

    stream: IO[bytes]
    name: str
    on_reject: Callable[[Reject], None]
    on_progress: Callable[[int], None] | None = None
    records: int = 0

    def lines(self) -> Iterator[Parsed]:
        position = 0
        reported = 0
        progress = self.on_progress
        for line_no, line in enumerate(self.stream, start=1):
            position += len(line)
            if progress is not None and position - reported >= PROGRESS_STEP_BYTES:
                progress(position)
                reported = position
            if not line.strip():
                continue
            self.records += 1
            try:
                yield parse_json_line(line)
            except BadLine as bad:
                self.on_reject(Reject(self.name, line_no, bad.reason, bad.detail, raw_text(line)))
        if progress is not None:
            progress(position)
