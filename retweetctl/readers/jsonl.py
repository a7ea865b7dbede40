"""twarc2 / X API v2 JSONL: API pages, flattened tweets and users, one JSON object a line.

Two decoders give the same answer. The fast one (retweetctl.readers.fast)
decodes with msgspec into typed structs that name only the fields used; any
line it cannot take as it expects (a decode error, an unexpected type, an
invalid id) is decoded again here, with the standard library into plain
objects, and this module's walk decides what the line gives or why it is
rejected. So the reasons and details of rejects are exactly those of the walk
below, and tests check that both decoders agree on every line the fast one takes.

parse_block() is the unit of work: a block of whole lines in, one picklable
JsonlBlock out, in line order, with no state shared between blocks; worker
processes can run it on chunks of a file.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from retweetctl.readers.common import (
    INVALID_JSON,
    INVALID_UTF8,
    MALFORMED,
    NOT_AN_OBJECT,
    UNRECOGNISED,
    BadLine,
    Parsed,
    ReaderInput,
    Reject,
    clean_text,
    optional_id,
    parse_id,
    parse_time,
    raw_text,
    retweeted_by_tweet,
)
from retweetctl.readers.fast import parse_fast
from retweetctl.readers.mention import author_from_mention, no_users, users_by_name
from retweetctl.rows import Retweet, User

__all__ = [
    "BLOCK_BYTES",
    "BlockSource",
    "JsonlBlock",
    "JsonlReader",
    "parse_block",
    "parse_json_line",
    "parse_json_line_reference",
    "parse_object",
    "read_blocks",
    "serial_blocks",
]

# Bytes of whole lines handed to parse_block at a time: large enough that a block's
# overhead (a list, a pickle across processes) vanishes next to its lines, small
# enough for a smooth progress bar (about 250 real tweets a block).
BLOCK_BYTES = 1 << 20


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


def _twarc_url(obj: dict[str, Any]) -> object:
    meta = obj.get("__twarc")
    return meta.get("url") if isinstance(meta, dict) else None


def _is_user(obj: dict[str, Any]) -> bool:
    return "username" in obj and "text" not in obj


def _mention_author(tweet: dict[str, Any], resolve: Callable[[str], int | None]) -> int | None:
    entities = tweet.get("entities")
    mentions = entities.get("mentions") if isinstance(entities, dict) else None
    if not isinstance(mentions, list) or not mentions or not isinstance(mentions[0], dict):
        return None
    first = mentions[0]
    return author_from_mention(
        tweet.get("text"), first.get("start"), first.get("id"), first.get("username"), resolve
    )


def parse_page(obj: dict[str, Any]) -> Parsed:
    """A raw API response page: data (+ includes, meta, errors)."""
    out = Parsed()
    data = _objects(obj.get("data"), "data")
    tweet_id = retweeted_by_tweet(_twarc_url(obj))
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
    resolve = users_by_name(out.users)
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
        retweet_id = optional_id(tweet.get("id"))
        when = parse_time(tweet.get("created_at"))
        if original is None:
            author = _mention_author(tweet, resolve)
            out.add_missing_original(original_id, retweeter, author, retweet_id, when)
            continue
        author = parse_id(original.get("author_id"), "includes.tweets[].author_id")
        out.rows.append(Retweet(original_id, retweeter, author, retweet_id, when))
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
    retweet_id = optional_id(obj.get("id"))
    when = parse_time(obj.get("created_at"))
    if ref.get("author_id") is None:  # flatten inlines the original only when includes had it
        author = _mention_author(obj, no_users)  # flatten inlines the mentioned user's id
        out.add_missing_original(original_id, retweeter, author, retweet_id, when)
        return out
    author = parse_id(ref.get("author_id"), "referenced_tweets.author_id")
    if isinstance(ref.get("author"), dict):
        out.users.append(_user(ref["author"], "referenced_tweets.author"))
    out.rows.append(Retweet(original_id, retweeter, author, retweet_id, when))
    return out


def parse_flat_user(obj: dict[str, Any]) -> Parsed:
    """One user per line (a flattened user page)."""
    user = _user(obj, "user")
    out = Parsed(users=[user])
    tweet_id = retweeted_by_tweet(_twarc_url(obj))
    if tweet_id is not None:
        out.retweeted_by = (tweet_id, [user[0]])
    return out


def parse_object(obj: object) -> Parsed:
    """What a decoded line gives, by its shape; BadLine if it is malformed."""
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


def parse_json_line_reference(line: bytes) -> Parsed:
    """The standard library's decoding of a line and the walk above: the reference answer."""
    try:
        obj = json.loads(line)
    except UnicodeDecodeError as exc:
        raise BadLine(INVALID_UTF8, str(exc)) from None
    except ValueError as exc:  # JSONDecodeError, and RecursionError's cousins
        raise BadLine(INVALID_JSON, str(exc)) from None
    except RecursionError:
        raise BadLine(INVALID_JSON, "nested too deeply") from None
    return parse_object(obj)


def parse_json_line(line: bytes) -> Parsed:
    """Parse one line, fast where it can be; BadLine (the reference's reason) if malformed."""
    parsed = parse_fast(line)
    return parsed if parsed is not None else parse_json_line_reference(line)


@dataclass
class JsonlBlock:
    """What a block of lines gives, in line order: picklable, so it can cross processes.

    parsed: the lines' records; consecutive lines are merged into one Parsed, but a
    retweeted_by page stays alone (the loader resolves its author from the rows before
    it). rejects: the malformed lines. records: non-blank lines. lines: all lines.
    size: the block's bytes.
    """

    parsed: list[Parsed] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    records: int = 0
    lines: int = 0
    size: int = 0


def parse_block(block: bytes, name: str, first_line: int = 1) -> JsonlBlock:
    """Parse a block of whole JSONL lines (the last may lack its newline).

    Pure: the result depends only on the arguments, so blocks of one file can be
    parsed in any process, in any order, and their results used in file order.
    name and first_line (the block's first line number in the file) are for rejects.
    """
    out = JsonlBlock(size=len(block))
    # lines as iterating a file gives them, ending in b"\n": the decoders' error details
    # (a line number and column in a truncated line) stay what they always were
    lines = io.BytesIO(block).readlines()
    out.lines = len(lines)
    current: Parsed | None = None
    for line_no, line in enumerate(lines, start=first_line):
        if not line or line.isspace():  # blank (isspace: no copy of a 4 KB line, as strip made)
            continue
        out.records += 1
        try:
            parsed = parse_json_line(line)
        except BadLine as bad:
            out.rejects.append(Reject(name, line_no, bad.reason, bad.detail, raw_text(line)))
            continue
        if parsed.retweeted_by is not None:
            out.parsed.append(parsed)
            current = None
        elif current is None:
            out.parsed.append(parsed)
            current = parsed
        else:
            current.extend(parsed)
    return out


def read_blocks(stream: IO[bytes], size: int = BLOCK_BYTES) -> Iterator[bytes]:
    """Blocks of whole lines of about size bytes (a longer line makes a longer block)."""
    while True:
        block = stream.read(size)
        if not block:
            return
        if not block.endswith(b"\n"):
            block += stream.readline()  # up to the end of the line cut in two
        yield block


def serial_blocks(stream: IO[bytes], name: str) -> Iterator[JsonlBlock]:
    """parse_block over a stream's blocks, in this process, in order."""
    line_no = 1
    for data in read_blocks(stream):
        block = parse_block(data, name, line_no)
        line_no += block.lines
        yield block


# (stream, input name) -> its JsonlBlocks in input order: serial_blocks, or a runner
# that hands read_blocks' blocks to parse_block in worker processes.
BlockSource = Callable[[IO[bytes], str], Iterator[JsonlBlock]]


@dataclass
class JsonlReader(ReaderInput):
    """Parsed lines of a JSONL stream; bad lines go to on_reject.

    blocks decides where the parse runs (serial_blocks: here); the records, rejects
    and their order are the same wherever it runs.
    """

    blocks: BlockSource = serial_blocks

    def __iter__(self) -> Iterator[Parsed]:
        position = 0
        progress = self.on_progress
        for block in self.blocks(self.stream, self.name):
            position += block.size
            self.records += block.records
            for reject in block.rejects:
                self.on_reject(reject)
            yield from block.parsed
            if progress is not None:
                progress(position)

    def lines(self) -> Iterator[Parsed]:
        """The records, as iter(reader) gives them."""
        return iter(self)
