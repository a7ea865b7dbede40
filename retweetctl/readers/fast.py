"""The fast decoder of JSONL lines: msgspec into typed structs naming only the fields used.

parse_fast() answers only for lines it can take exactly as expected: ids as
strings of digits in range, objects where objects belong. For anything else it
returns None and the caller decodes the line with the reference walk
(retweetctl.readers.jsonl), which decides the line's records or its reject
reason. So this module never rejects a line, and must never accept one the
reference would reject or read differently (tests/test_readers.py checks both
on the real captures and on fuzzed lines).

Decoding only these fields is what makes it fast: msgspec skips the rest of a
4 KB tweet (entities, metrics, annotations) without building Python objects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType

from retweetctl.ids import MAX_ID, MAX_ID_DIGITS, parse_id_text
from retweetctl.readers.common import (
    BadLine,
    Parsed,
    clean_text,
    parse_time,
    retweeted_by_tweet,
)
from retweetctl.readers.mention import RT_PREFIX, author_from_mention, no_users, users_by_name
from retweetctl.rows import Retweet, User

__all__ = ["parse_fast"]


class _User(Struct, gc=False):
    id: str | None = None
    username: str | None = None
    name: str | None = None


class _Ref(Struct, gc=False):
    type: str | None = None
    id: str | None = None
    # twarc2 flatten inlines the original: its author's id and the author
    author_id: str | None = None
    author: _User | None = None


class _Mention(Struct, gc=False):
    start: int | None = None
    id: str | None = None
    username: str | None = None


class _Entities(Struct, gc=False):
    mentions: list[_Mention] | None = None


class _Item(Struct, gc=False):
    """A tweet, or a user in a user page's data (the reference tells them apart by keys)."""

    id: str | None | UnsetType = UNSET
    author_id: str | None | UnsetType = UNSET
    text: str | None | UnsetType = UNSET
    username: str | None | UnsetType = UNSET
    name: str | None = None
    created_at: str | None = None
    referenced_tweets: list[_Ref] | None | UnsetType = UNSET
    # decoded only for a retweet whose original is missing (rare): Raw skips it cheaply
    entities: Raw = msgspec.field(default_factory=Raw)


class _Included(Struct, gc=False):
    id: str | None = None
    author_id: str | None = None


class _Includes(Struct, gc=False):
    tweets: list[_Included] | _Included | None = None
    users: list[_User] | _User | None = None


class _Twarc(Struct, gc=False):
    url: str | None = None


class _Line(_Item, gc=False):
    """Any line: an API page (data, includes…), a flattened tweet or a flattened user."""

    data: list[_Item] | _Item | None | UnsetType = UNSET
    errors: Raw | UnsetType = UNSET
    meta: Raw | UnsetType = UNSET
    includes: _Includes | None | UnsetType = UNSET
    twarc: _Twarc | None = msgspec.field(name="__twarc", default=None)
    author: _User | None = None


_decode_line = msgspec.json.Decoder(_Line).decode
_decode_entities = msgspec.json.Decoder(_Entities).decode
# msgspec and the standard library's json count a line's nesting against the same
# Python recursion limit, from where they are called; json.loads runs 4 Python frames
# deeper (loads, decode, raw_decode) than a C decoder called in its place, so at the
# limit it gives up 4 levels of nesting sooner. Decoding from this many frames deeper
# makes msgspec give up no later than the reference would, so a line nested too deeply
# for the reference is never taken here (measured: json 992 levels, msgspec 996).
RECURSION_MARGIN = 8


def _decode_deeper(line: bytes, frames: int = RECURSION_MARGIN) -> _Line:
    return _decode_line(line) if frames <= 0 else _decode_deeper(line, frames - 1)


class _Fallback(Exception):
    """The line is not as expected: the reference decides."""


def parse_fast(line: bytes) -> Parsed | None:
    """What line gives, or None when the reference walk must decide (malformed or unusual)."""
    if not line.isascii():
        # msgspec does not check the UTF-8 of what it skips; twarc2 writes ASCII anyway
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return None
    try:
        obj = _decode_deeper(line)
        if obj.data is not UNSET or obj.errors is not UNSET or obj.meta is not UNSET:
            return _page(obj)
        if obj.id is not UNSET:
            if obj.username is not UNSET and obj.text is UNSET:
                return _flat_user(obj)
            if (
                obj.text is not UNSET
                or obj.author_id is not UNSET
                or obj.referenced_tweets is not UNSET
            ):
                return _flat_tweet(obj)
    except (msgspec.MsgspecError, RecursionError, BadLine, _Fallback):
        return None
    return None  # unrecognised: the reference words the reject


def _id(value: str | None | UnsetType) -> int:
    # inline, not ids.parse_id_text: the hot loop of a page (leading zeros fall back)
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS:
        number = int(value)
        if 0 < number <= MAX_ID:
            return number
    raise _Fallback


def _own_id(value: str | None | UnsetType) -> int | None:
    return parse_id_text(value) if type(value) is str else None


def _user(user: _User | _Item) -> User:
    return (_id(user.id), clean_text(user.username), clean_text(user.name))


def _users(users: Sequence[_User | _Item]) -> list[User]:
    """A page's users, checked a page at a time (one join, one scan) rather than id by id."""
    ids = [user.id for user in users]
    # a user page's data items are _Items: an absent username is UNSET, read as None
    usernames = [None if user.username is UNSET else user.username for user in users]
    names = [user.name for user in users]
    try:
        joined = "".join(ids)  # type: ignore[arg-type]  # a None (missing id) raises TypeError
        numbers = list(map(int, ids))  # type: ignore[arg-type]  # int("") raises ValueError
    except (TypeError, ValueError):
        raise _Fallback from None
    if not (joined.isascii() and joined.isdigit()) or max(map(len, ids)) > MAX_ID_DIGITS:  # type: ignore[arg-type]
        raise _Fallback
    if min(numbers) <= 0 or max(numbers) > MAX_ID:
        raise _Fallback
    # msgspec never yields a lone surrogate, so a NUL is all clean_text() could refuse
    texts = [text for text in usernames + names if text is not None]
    if "\x00" in "".join(texts):
        return [_user(user) for user in users]
    return list(zip(numbers, usernames, names, strict=True))


def _listed(value: list[_User] | _User | None) -> list[_User]:
    if value is None:
        return []
    return value if type(value) is list else [value]  # type: ignore[list-item]


def _retweeted_ref(item: _Item) -> _Ref | None:
    refs = item.referenced_tweets
    if not refs:  # UNSET is falsy too
        return None
    for ref in refs:
        if ref.type == "retweeted":
            return ref
    return None


def _mention_author(item: _Item, resolve: Callable[[str], int | None]) -> int | None:
    if not item.entities or type(item.text) is not str or not item.text.startswith(RT_PREFIX):
        return None
    mentions = _decode_entities(item.entities).mentions
    if not mentions:
        return None
    first = mentions[0]
    return author_from_mention(item.text, first.start, first.id, first.username, resolve)


def _page(obj: _Line) -> Parsed:
    out = Parsed()
    data = obj.data
    items: list[_Item] = (
        [] if data is None or data is UNSET else data if type(data) is list else [data]  # type: ignore[list-item]
    )
    twarc = obj.twarc
    tweet_id = retweeted_by_tweet(twarc.url) if twarc is not None else None
    if tweet_id is not None or (
        items and items[0].username is not UNSET and items[0].text is UNSET
    ):
        out.users = _users(items) if items else []
        if tweet_id is not None:
            out.retweeted_by = (tweet_id, [user[0] for user in out.users])
        return out
    includes = obj.includes if isinstance(obj.includes, _Includes) else None
    if includes is not None:
        listed_users = _listed(includes.users)
        if listed_users:
            out.users = _users(listed_users)
    retweets = [(item, ref) for item in items if (ref := _retweeted_ref(item)) is not None]
    if not retweets:
        return out
    included = includes.tweets if includes is not None else None
    listed: list[_Included] = (
        [] if included is None else included if type(included) is list else [included]  # type: ignore[list-item]
    )
    originals = {t.id: t.author_id for t in listed if t.id is not None}
    # The page's ids converted a list at a time (one join and one scan to check them,
    # int() in C): a third of the walk's time when done id by id.
    retweeters = _ids([item.author_id for item, _ in retweets])
    original_ids = _ids([ref.id for _, ref in retweets])
    authors = [originals.get(ref.id, _MISSING) for _, ref in retweets]  # type: ignore[arg-type]
    author_ids = _ids([a for a in authors if a is not _MISSING])
    own_ids = _own_ids([item.id for item, _ in retweets])
    resolve = users_by_name(out.users)
    rows = out.rows
    found = iter(author_ids)
    for (item, _), retweeter, original_id, author, retweet_id in zip(
        retweets, retweeters, original_ids, authors, own_ids, strict=True
    ):
        when = parse_time(item.created_at)
        if author is _MISSING:
            mentioned = _mention_author(item, resolve)
            out.add_missing_original(original_id, retweeter, mentioned, retweet_id, when)
            continue
        rows.append(Retweet(original_id, retweeter, next(found), retweet_id, when))
    return out


# An original not in includes (None is an original without an author_id: not an id).
_MISSING = object()


def _ids(values: Sequence[str | None | UnsetType | object]) -> list[int]:
    """_id of each value, checked all at once; _Fallback if any is not an id."""
    if not values:
        return []
    try:
        joined = "".join(values)  # type: ignore[arg-type]  # None or UNSET raises TypeError
        if not (joined.isascii() and joined.isdigit()) or max(map(len, values)) > MAX_ID_DIGITS:  # type: ignore[arg-type]
            raise _Fallback
        numbers = list(map(int, values))  # type: ignore[arg-type]  # "" raises ValueError
    except (TypeError, ValueError):
        raise _Fallback from None
    if min(numbers) <= 0 or max(numbers) > MAX_ID:
        raise _Fallback
    return numbers


def _own_ids(values: Sequence[str | None | UnsetType]) -> Sequence[int | None]:
    """_own_id of each value: the quick way when all are plain ids, else one by one."""
    try:
        return _ids(values)
    except _Fallback:
        return [_own_id(value) for value in values]


def _flat_tweet(obj: _Line) -> Parsed:
    out = Parsed()
    if obj.author is not None:
        out.users.append(_user(obj.author))
    ref = _retweeted_ref(obj)
    if ref is None:
        return out
    retweeter = _id(obj.author_id)
    original_id = _id(ref.id)
    retweet_id = _own_id(obj.id)
    when = parse_time(obj.created_at)
    if ref.author_id is None:
        author = _mention_author(obj, no_users)
        out.add_missing_original(original_id, retweeter, author, retweet_id, when)
        return out
    author = _id(ref.author_id)
    if ref.author is not None:
        out.users.append(_user(ref.author))
    out.rows.append(Retweet(original_id, retweeter, author, retweet_id, when))
    return out


def _flat_user(obj: _Line) -> Parsed:
    user = _user(obj)
    out = Parsed(users=[user])
    if obj.twarc is not None:
        tweet_id = retweeted_by_tweet(obj.twarc.url)
        if tweet_id is not None:
            out.retweeted_by = (tweet_id, [user[0]])
    return out
