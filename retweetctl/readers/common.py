"""What every reader shares: reject and skip reasons, id checks, and the Parsed record.

Nothing here touches the database. Every id is checked to be a positive 64-bit
integer before COPY, which would abort on the first bad one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from retweetctl.ids import MAX_ID, is_id_text, parse_id_text
from retweetctl.rows import Retweet, Row, User

__all__ = [
    "AUTHOR_UNKNOWN",
    "ID_OUT_OF_RANGE",
    "INVALID_CSV",
    "INVALID_ID",
    "INVALID_JSON",
    "INVALID_TIME",
    "INVALID_UTF8",
    "MALFORMED",
    "MAX_ID",
    "MISSING_ID",
    "NOT_AN_OBJECT",
    "ORIGINAL_NOT_IN_INCLUDES",
    "UNRECOGNISED",
    "WRONG_FIELD_COUNT",
    "BadLine",
    "Parsed",
    "ReaderInput",
    "Reject",
    "UnusableInput",
    "clean_text",
    "optional_id",
    "parse_id",
    "parse_time",
    "raw_text",
    "retweeted_by_tweet",
]

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
INVALID_TIME = "invalid time"

RETWEETED_BY_URL = re.compile(r"/2/tweets/(\d+)/retweeted_by")


class UnusableInput(Exception):
    """The file as a whole cannot be loaded (binary, compressed, unknown format)."""


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


@dataclass
class Parsed:
    """What a reader gives for a run of input: the one record kind of every format.

    rows: retweets with all three ids known, as ingest.Row: a Retweet, or a plain
    (tweet_id, retweeter_id, author_id) triple where the source has no details (a
    CSV without the optional columns: a triple costs a seventh of a NamedTuple to
    make, and such a CSV is the fastest load there is). from_mention of them had
    the author read from the retweet's `RT @name:` mention. retweeted_by: (tweet_id,
    retweeter ids) from a retweeted_by page, whose author the loader must find;
    a Parsed with retweeted_by has no rows. Picklable, so worker processes can
    hand it back.
    """

    rows: list[Row] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    retweeted_by: tuple[int, list[int]] | None = None
    from_mention: int = 0

    def add_missing_original(
        self,
        tweet_id: int,
        retweeter_id: int,
        author_id: int | None,
        retweet_id: int | None,
        retweeted_at: datetime | None,
    ) -> None:
        """A retweet whose original is missing: a row if the RT mention named the author, else a skip."""
        if author_id is None:
            self.skipped.append(ORIGINAL_NOT_IN_INCLUDES)
            return
        self.rows.append(Retweet(tweet_id, retweeter_id, author_id, retweet_id, retweeted_at, True))
        self.from_mention += 1

    def extend(self, other: Parsed) -> None:
        """Take other's rows, users and skips (other has no retweeted_by)."""
        self.rows += other.rows
        self.users += other.users
        self.skipped += other.skipped
        self.from_mention += other.from_mention


@dataclass
class ReaderInput:
    """What every reader is made of: a binary stream, its name, where rejects and progress go.

    records counts the input records read so far (non-blank JSONL lines, CSV data rows).
    """

    stream: IO[bytes]
    name: str
    on_reject: Callable[[Reject], None]
    on_progress: Callable[[int], None] | None = None
    records: int = 0


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


def optional_id(value: object) -> int | None:
    """An id where one is welcome but not required (a retweet's own id): None if not valid."""
    try:
        return parse_id(value, "")
    except BadLine:
        return None


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time with its UTC offset (X API's created_at), or None.

    A time without an offset is refused (None): it would be read in the
    session's time zone, which is not what the source meant.
    """
    if type(value) is not str:
        return None
    text: str = value
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


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


def retweeted_by_tweet(url: object) -> int | None:
    """The tweet id of a retweeted_by request URL (twarc's __twarc.url), else None."""
    if not isinstance(url, str):
        return None
    match = RETWEETED_BY_URL.search(url)
    if match is None:
        return None
    return parse_id(match.group(1), "tweet id in __twarc.url")
