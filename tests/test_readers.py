"""The parsers behind `load`: id validation, format sniffing, JSONL shapes, CSV records."""

from __future__ import annotations

import io
import json
import pickle
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retweetctl.ingest import Retweet
from retweetctl.readers import (
    AUTHOR_UNKNOWN,
    ID_OUT_OF_RANGE,
    INVALID_CSV,
    INVALID_ID,
    INVALID_JSON,
    INVALID_TIME,
    INVALID_UTF8,
    MAX_ID,
    MAX_RECORD_LINES,
    MISSING_ID,
    NOT_AN_OBJECT,
    ORIGINAL_NOT_IN_INCLUDES,
    READERS,
    UNRECOGNISED,
    WRONG_FIELD_COUNT,
    BadLine,
    CsvReader,
    Format,
    JsonlBlock,
    JsonlReader,
    Parsed,
    Reject,
    UnusableInput,
    detect,
    open_reader,
    parse_block,
    parse_id,
    parse_json_line,
    parse_json_line_reference,
    raw_text,
)
from retweetctl.readers.fast import parse_fast
from retweetctl.readers.jsonl import read_blocks, serial_blocks

DATA = Path(__file__).resolve().parent / "data" / "load"
TWARC = Path(__file__).resolve().parent / "data" / "twarc"
assert AUTHOR_UNKNOWN  # the loader, not the reader, decides this one (tests/test_load.py)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", 1), ("1380242611781386245", 1380242611781386245), (str(MAX_ID), MAX_ID), (42, 42)],
)
def test_good_ids(value: object, expected: int) -> None:
    assert parse_id(value, "id") == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (1.4e18, INVALID_ID),
        (1.0, INVALID_ID),
        (True, INVALID_ID),
        (False, INVALID_ID),
        ("+1", INVALID_ID),
        ("-1", INVALID_ID),
        (" 1", INVALID_ID),
        ("1 ", INVALID_ID),
        ("1_000", INVALID_ID),
        ("\u0661\u0662", INVALID_ID),  # Arabic-Indic digits: int() would take them
        ("\u00b2", INVALID_ID),  # superscript two: isdigit() is true
        ("1e5", INVALID_ID),
        ("", INVALID_ID),
        ([1], INVALID_ID),
        ("0", ID_OUT_OF_RANGE),
        (0, ID_OUT_OF_RANGE),
        (-5, ID_OUT_OF_RANGE),
        (str(MAX_ID + 1), ID_OUT_OF_RANGE),
        (MAX_ID + 1, ID_OUT_OF_RANGE),
        ("9" * 40, ID_OUT_OF_RANGE),
        (None, MISSING_ID),
    ],
)
def test_bad_ids(value: object, reason: str) -> None:
    with pytest.raises(BadLine) as caught:
        parse_id(value, "author_id")
    assert caught.value.reason == reason
    assert "author_id" in caught.value.detail


@given(st.integers())
def test_parse_id_accepts_exactly_the_positive_64_bit_integers(number: int) -> None:
    for value in (number, str(number)):
        if 0 < number <= MAX_ID:
            assert parse_id(value, "id") == number
        else:
            with pytest.raises(BadLine):
                parse_id(value, "id")


@given(st.text(max_size=25))
def test_parse_id_of_any_text_is_the_ascii_digit_strings_only(text: str) -> None:
    try:
        number = parse_id(text, "id")
    except BadLine:
        assert not (text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID)
    else:
        assert text.isascii() and text.isdigit() and int(text) == number


def test_detect() -> None:
    assert detect(b"", "f") is None
    assert detect(b" \n\n", "f") is None
    assert detect(b'{"data": []}', "f") is Format.TWARC
    assert detect(b'\xef\xbb\xbf\n {"data": []}', "f") is Format.TWARC
    assert detect(b"tweet_id,retweeter_id,author_id\n", "f") is Format.CSV
    with pytest.raises(UnusableInput, match="looks binary"):
        detect((DATA / "binary.dat").read_bytes(), "binary.dat")
    with pytest.raises(UnusableInput, match="gzip"):
        detect((DATA / "compressed.jsonl.gz").read_bytes(), "compressed.jsonl.gz")


def test_raw_text_is_json_safe_for_any_bytes() -> None:
    raw = raw_text(b"a\x00b\xff\xfe\xe9c\r\n")
    assert raw == "a\x00b\\xff\\xfe\\xe9c"
    line = Reject("f", 1, "r", "", raw).as_json()
    assert json.loads(line)["raw"] == raw
    assert "\n" not in line


def test_page_gives_retweets_users_and_skips() -> None:
    page = {
        "data": [
            {"id": "1", "author_id": "10", "referenced_tweets": [{"type": "retweeted", "id": "5"}]},
            {"id": "2", "author_id": "11", "referenced_tweets": [{"type": "quoted", "id": "5"}]},
            {"id": "3", "author_id": "12", "referenced_tweets": [{"type": "retweeted", "id": "6"}]},
            {"id": "4", "author_id": "13", "text": "no references"},
        ],
        "includes": {
            "tweets": [{"id": "5", "author_id": "50"}],
            "users": [{"id": "10", "username": "ten", "name": "Ten"}],
        },
    }
    parsed = parse_json_line(json.dumps(page).encode())
    assert parsed.rows == [Retweet(5, 10, 50, retweet_id=1)]
    assert parsed.skipped == [ORIGINAL_NOT_IN_INCLUDES]
    assert parsed.users == [(10, "ten", "Ten")]


def test_single_tweet_lookup_page_has_data_as_an_object() -> None:
    page = {
        "data": {
            "id": "1",
            "author_id": "10",
            "referenced_tweets": [{"type": "retweeted", "id": "5"}],
        },
        "includes": {"tweets": [{"id": "5", "author_id": "50"}]},
    }
    assert parse_json_line(json.dumps(page).encode()).rows == [Retweet(5, 10, 50, 1)]


def test_errors_only_page_is_fine() -> None:
    parsed = parse_json_line(b'{"errors": [{"title": "Not Found Error"}]}')
    assert (parsed.rows, parsed.users, parsed.skipped) == ([], [], [])


def test_flattened_tweet_with_and_without_its_original() -> None:
    tweet = {
        "id": "1",
        "author_id": "10",
        "text": "RT",
        "author": {"id": "10", "username": "ten"},
        "referenced_tweets": [
            {
                "type": "retweeted",
                "id": "5",
                "author_id": "50",
                "author": {"id": "50", "username": "f"},
            }
        ],
    }
    parsed = parse_json_line(json.dumps(tweet).encode())
    assert parsed.rows == [Retweet(5, 10, 50, 1)]
    assert parsed.users == [(10, "ten", None), (50, "f", None)]
    tweet["referenced_tweets"] = [{"type": "retweeted", "id": "5"}]
    parsed = parse_json_line(json.dumps(tweet).encode())
    assert (parsed.rows, parsed.skipped) == ([], [ORIGINAL_NOT_IN_INCLUDES])


def test_retweeted_by_pages_flat_and_not() -> None:
    url = "https://api.twitter.com/2/tweets/77/retweeted_by?max_results=100"
    page = {"data": [{"id": "3", "username": "c", "name": "C"}], "__twarc": {"url": url}}
    parsed = parse_json_line(json.dumps(page).encode())
    assert parsed.retweeted_by == (77, [3])
    assert parsed.users == [(3, "c", "C")]
    flat = {"id": "4", "username": "d", "__twarc": {"url": url}}
    assert parse_json_line(json.dumps(flat).encode()).retweeted_by == (77, [4])
    followers = {
        "data": [{"id": "3", "username": "c"}],
        "__twarc": {"url": "https://x/2/users/1/followers"},
    }
    parsed = parse_json_line(json.dumps(followers).encode())
    assert (parsed.retweeted_by, parsed.users) == (None, [(3, "c", None)])


def test_names_postgresql_cannot_store_become_null() -> None:
    page = {
        "data": [],
        "includes": {"users": [{"id": "1", "username": "a\u0000", "name": "\ud800"}]},
    }
    assert parse_json_line(json.dumps(page).encode()).users == [(1, None, None)]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{", INVALID_JSON),
        (b"NaN", NOT_AN_OBJECT),
        (b"[" * 100_000, INVALID_JSON),
        (b'"text"', NOT_AN_OBJECT),
        (b"{}", UNRECOGNISED),
        (b'{"id": "1"}', UNRECOGNISED),
        (b'{"data": [], "x": "\xff"}', INVALID_UTF8),
    ],
)
def test_malformed_lines(line: bytes, reason: str) -> None:
    with pytest.raises(BadLine) as caught:
        parse_json_line(line)
    assert caught.value.reason == reason


def test_jsonl_reader_on_the_bad_lines_file() -> None:
    rejects: list[Reject] = []
    reader = JsonlReader(io.BytesIO((DATA / "bad_lines.jsonl").read_bytes()), "b", rejects.append)
    parsed = list(reader)
    assert [row[:3] for p in parsed for row in p.rows] == [(101, 11, 1), (102, 12, 2), (102, 13, 2)]
    assert [reason for p in parsed for reason in p.skipped] == [ORIGINAL_NOT_IN_INCLUDES]
    assert [(r.line, r.reason) for r in rejects] == [
        (2, INVALID_JSON),
        (3, NOT_AN_OBJECT),
        (4, UNRECOGNISED),
        (6, INVALID_UTF8),
        (7, INVALID_ID),  # 1.4e18
        (8, INVALID_ID),  # true
        (9, INVALID_ID),  # "+12"
        (10, INVALID_ID),  # " 12"
        (11, INVALID_ID),  # Arabic-Indic digits
        (12, ID_OUT_OF_RANGE),
        (13, ID_OUT_OF_RANGE),  # "0"
        (14, MISSING_ID),
        (16, INVALID_JSON),  # a NUL byte
    ]
    assert reader.records == 16  # the blank line is no record


def test_csv_reader_on_the_bad_rows_file() -> None:
    rejects: list[Reject] = []
    reader = CsvReader(io.BytesIO((DATA / "bad_rows.csv").read_bytes()), "c", rejects.append)
    assert [row[:3] for row in reader.rows()] == [
        (101, 11, 1),
        (101, 12, 1),
        (101, 14, 1),
        (MAX_ID, 15, MAX_ID),
        (101, 17, 1),
    ]
    assert [(r.line, r.reason) for r in rejects] == [
        (3, WRONG_FIELD_COUNT),
        (4, INVALID_ID),
        (5, INVALID_ID),
        (6, INVALID_ID),
        (7, INVALID_ID),
        (8, ID_OUT_OF_RANGE),
        (9, ID_OUT_OF_RANGE),
        (10, INVALID_ID),
        (12, INVALID_ID),
        (14, INVALID_ID),
        (18, INVALID_CSV),
    ]
    assert rejects[-1].raw == '101,18,"1\nan unclosed quote over two lines'
    assert rejects[-1].detail == "a quoted field is not closed by the end of the input"
    assert rejects[-1].detail == "a quoted field is not closed by the end of the input"
    assert rejects[8].raw == "10\\xe91,13,1,bad byte in an id"
    assert reader.records == 16  # 18 lines: a header, a blank line, a record on two lines


def test_csv_columns_in_any_order_and_case() -> None:
    text = b"Author_ID,extra,TWEET_ID,retweeter_id\r\n1,x,2,3\r\n"
    reader = CsvReader(io.BytesIO(text), "c", lambda r: None)
    assert list(reader.rows()) == [(2, 3, 1)]


def test_csv_without_the_columns_is_unusable() -> None:
    reader = CsvReader(io.BytesIO((DATA / "no_header.csv").read_bytes()), "n", lambda r: None)
    with pytest.raises(UnusableInput, match="tweet_id,retweeter_id,author_id"):
        list(reader.rows())


def test_csv_stray_quote_inside_a_field_does_not_swallow_lines() -> None:
    text = b'tweet_id,retweeter_id,author_id,note\n1,2,3,a 5" screen\n4,5,6,x\n"7","8",9,"two\nlines"\n'
    reader = CsvReader(io.BytesIO(text), "c", lambda r: None)
    assert [row[:3] for row in reader.rows()] == [(1, 2, 3), (4, 5, 6), (7, 8, 9)]
    assert reader.records == 3


def test_csv_unclosed_quote_gives_up_after_a_bounded_number_of_lines() -> None:
    rows = b"".join(b"%d,1,1,x\n" % n for n in range(1, 301))
    rejects: list[Reject] = []
    reader = CsvReader(
        io.BytesIO(b'tweet_id,retweeter_id,author_id,note\n1,1,1,"open\n' + rows),
        "c",
        rejects.append,
    )
    loaded = list(reader.rows())
    assert [(r.line, r.reason) for r in rejects] == [(2, INVALID_CSV)]
    assert rejects[0].raw.count("\n") == MAX_RECORD_LINES
    assert loaded == [(n, 1, 1) for n in range(MAX_RECORD_LINES + 1, 301)]
    assert reader.records == 1 + 300 - MAX_RECORD_LINES


# ---------------------------------------------------------------------------
# Issue 15: the author of a missing original, from the retweet's `RT @name:` mention


def rt_page(text: str, mentions: list[dict[str, object]], users: list[dict[str, str]]) -> bytes:
    """A search page with one retweet of tweet 5 (absent from includes) by user 10."""
    page = {
        "data": [
            {
                "id": "900",
                "author_id": "10",
                "created_at": "2021-06-15T10:00:00.000Z",
                "text": text,
                "entities": {"mentions": mentions},
                "referenced_tweets": [{"type": "retweeted", "id": "5"}],
            }
        ],
        "includes": {"tweets": [], "users": users},
    }
    return json.dumps(page).encode()


WHEN = datetime(2021, 6, 15, 10, tzinfo=UTC)
ALICE = {"id": "50", "username": "Alice_X", "name": "Alice"}


@pytest.mark.parametrize(
    ("text", "mentions", "users", "author"),
    [
        # a username resolved in the same page's includes.users, whatever its case
        ("RT @alice_x: hi", [{"start": 3, "end": 11, "username": "alice_x"}], [ALICE], 50),
        ("RT @ALICE_X: hi", [{"start": 3, "end": 11, "username": "ALICE_X"}], [ALICE], 50),
        # a mention with its id needs no includes.users
        ("RT @bob: hi", [{"start": 3, "end": 7, "username": "bob", "id": "77"}], [], 77),
        # the first mention only: a later one at another offset does not matter
        (
            "RT @bob: to @alice_x",
            [{"start": 3, "username": "bob", "id": "77"}, {"start": 12, "username": "alice_x"}],
            [ALICE],
            77,
        ),
        # a username not in includes.users: unknown
        ("RT @carol: hi", [{"start": 3, "end": 9, "username": "carol"}], [ALICE], None),
        # a mention not at offset 3
        ("RT  @alice_x: hi", [{"start": 4, "username": "alice_x", "id": "50"}], [ALICE], None),
        ("@alice_x RT @bob", [{"start": 0, "username": "alice_x", "id": "50"}], [ALICE], None),
        # an `RT @` text whose mention list is empty
        ("RT @alice_x: hi", [], [ALICE], None),
        # not a retweet's text
        ("rt @alice_x: hi", [{"start": 3, "username": "alice_x", "id": "50"}], [ALICE], None),
        # an id that is no id is not guessed from the username either
        ("RT @alice_x: hi", [{"start": 3, "username": "alice_x", "id": "0"}], [ALICE], None),
    ],
)
def test_missing_original_attributed_from_the_rt_mention_only_by_the_rule(
    text: str, mentions: list[dict[str, object]], users: list[dict[str, str]], author: int | None
) -> None:
    line = rt_page(text, mentions, users)
    for parse in (parse_json_line, parse_json_line_reference):
        parsed = parse(line)
        if author is None:
            assert (parsed.rows, parsed.skipped) == ([], [ORIGINAL_NOT_IN_INCLUDES])
            assert parsed.from_mention == 0
        else:
            assert parsed.rows == [Retweet(5, 10, author, 900, WHEN, author_from_mention=True)]
            assert (parsed.skipped, parsed.from_mention) == ([], 1)


def test_original_in_includes_wins_over_the_mention() -> None:
    page = json.loads(rt_page("RT @bob: hi", [{"start": 3, "username": "bob", "id": "77"}], []))
    page["includes"]["tweets"] = [{"id": "5", "author_id": "60"}]
    parsed = parse_json_line(json.dumps(page).encode())
    assert parsed.rows == [Retweet(5, 10, 60, 900, WHEN)]
    assert parsed.from_mention == 0


def test_flattened_retweet_attributed_from_its_inlined_mention() -> None:
    tweet = {
        "id": "900",
        "author_id": "10",
        "created_at": "2021-06-15T10:00:00.000Z",
        "text": "RT @Bob: hi",
        "entities": {"mentions": [{"start": 3, "username": "Bob", "id": "77", "name": "B"}]},
        "referenced_tweets": [{"type": "retweeted", "id": "5"}],
    }
    parsed = parse_json_line(json.dumps(tweet).encode())
    assert parsed.rows == [Retweet(5, 10, 77, 900, WHEN, True)]
    del tweet["entities"]["mentions"][0]["id"]  # type: ignore[index]
    parsed = parse_json_line(json.dumps(tweet).encode())  # a flat line has no includes.users
    assert (parsed.rows, parsed.skipped) == ([], [ORIGINAL_NOT_IN_INCLUDES])


# ---------------------------------------------------------------------------
# The fast decoder against the reference walk


def capture_lines() -> list[bytes]:
    return [
        line for path in sorted(TWARC.glob("*.jsonl")) for line in path.read_bytes().splitlines()
    ]


def test_fast_decoder_takes_every_real_capture_line_and_agrees_with_the_reference() -> None:
    lines = capture_lines()
    assert len(lines) == 115
    for line in lines:
        fast = parse_fast(line)
        assert fast is not None  # no real line needs the slow path
        assert fast == parse_json_line_reference(line)


def test_fast_decoder_leaves_unusual_lines_to_the_reference() -> None:
    good = rt_page("RT @bob: hi", [{"start": 3, "username": "bob", "id": "77"}], [])
    assert parse_fast(good) is not None
    unusual = [
        good.replace(b'"10"', b"10"),  # an integer id: valid, but the reference reads it
        good.replace(b'"10"', b'"' + b"0" * 20 + b'10"'),  # longer than any id, by leading zeros
        good.replace(b'"text"', b'"note": "caf\xff", "text"'),  # invalid UTF-8 in a skipped field
        good.replace(b'hi"', b'\\ud800"'),  # a lone surrogate
        good.replace(b'"start": 3', b'"start": 3.0'),
        b"\xef\xbb\xbf" + good,  # a byte order mark
        b'{"data": [1]}',
    ]
    for line in unusual:
        assert line != good
        assert parse_fast(line) is None
    assert parse_json_line(unusual[0]).rows == parse_json_line(good).rows
    assert parse_json_line(unusual[1]).rows == parse_json_line(good).rows


def test_parse_block_of_any_split_gives_the_whole_files_answer_and_pickles() -> None:
    data = b"".join(path.read_bytes() for path in sorted(TWARC.glob("*.jsonl")))
    data += (DATA / "bad_lines.jsonl").read_bytes() + (DATA / "retweeted_by.jsonl").read_bytes()
    whole = parse_block(data, "all")
    assert whole.lines == data.count(b"\n") and whole.rejects
    assert any(p.retweeted_by for p in whole.parsed)
    lines = data.splitlines(keepends=True)
    for size in (1, 7, 40):
        parsed: list[Parsed] = []
        rejects: list[Reject] = []
        first = 1
        for start in range(0, len(lines), size):
            block = pickle.loads(
                pickle.dumps(parse_block(b"".join(lines[start : start + size]), "all", first))
            )
            first += block.lines
            parsed += block.parsed
            rejects += block.rejects
        assert rejects == whole.rejects
        assert [r for p in parsed for r in p.rows] == [r for p in whole.parsed for r in p.rows]
        assert [p.retweeted_by for p in parsed if p.retweeted_by] == [
            p.retweeted_by for p in whole.parsed if p.retweeted_by
        ]
        assert all(not (p.rows and p.retweeted_by) for p in parsed)


def test_read_blocks_cuts_only_at_line_ends() -> None:
    data = b"".join(b'{"id": "%d"}\n' % n for n in range(1000)) + b"last"
    blocks = list(read_blocks(io.BytesIO(data), 100))
    assert b"".join(blocks) == data
    assert all(block.endswith(b"\n") for block in blocks[:-1])


# ---------------------------------------------------------------------------
# Formats: one enum, one table


def test_every_format_has_a_reader_giving_parsed_records() -> None:
    assert set(READERS) == set(Format)
    text = b"tweet_id,retweeter_id,author_id\n1,2,3\n"
    reader = open_reader(io.BytesIO(text), "c", Format.CSV, lambda r: None)
    assert [p.rows for p in reader] == [[(1, 2, 3)]]  # no details: a plain ingest.Row triple
    page = rt_page("RT @bob: hi", [{"start": 3, "username": "bob", "id": "77"}], [])
    reader = open_reader(io.BytesIO(page + b"\n"), "j", Format.TWARC, lambda r: None)
    assert [p.rows for p in reader] == [[Retweet(5, 10, 77, 900, WHEN, True)]]
    assert reader.records == 1


# ---------------------------------------------------------------------------
# Issue 13: retweet ids and times in CSV


def test_csv_optional_retweet_id_and_time_columns() -> None:
    text = (
        b"tweet_id,retweeter_id,author_id,retweet_id,retweeted_at\n"
        b"1,2,3,900,2021-06-15T10:00:00Z\n"
        b"1,4,3,,\n"
        b'"1","5","3","901","2021-06-15T10:00:00+00:00"\n'
        b"1,6,3,x,2021-06-15T10:00:00Z\n"
        b"1,7,3,902,yesterday\n"
        b"1,8,3,903,2021-06-15T10:00:00\n"
    )
    rejects: list[Reject] = []
    reader = CsvReader(io.BytesIO(text), "c", rejects.append)
    assert list(reader.rows()) == [
        Retweet(1, 2, 3, 900, WHEN),
        Retweet(1, 4, 3),
        Retweet(1, 5, 3, 901, WHEN),
    ]
    assert [(r.line, r.reason) for r in rejects] == [
        (5, INVALID_ID),
        (6, INVALID_TIME),
        (7, INVALID_TIME),  # no UTC offset: which time would it be?
    ]
    only_time = b"retweeted_at,author_id,retweeter_id,tweet_id\n2021-06-15T10:00:00Z,3,2,1\n"
    reader = CsvReader(io.BytesIO(only_time), "c", rejects.append)
    assert list(reader.rows()) == [Retweet(1, 2, 3, None, WHEN)]


def test_a_line_nested_near_the_recursion_limit_is_judged_as_the_reference_judges_it() -> None:
    """msgspec nests a few levels deeper than json.loads: it must not take what json refuses."""

    def reference(line: bytes) -> Parsed:  # one frame, as parse_json_line calls it
        return parse_json_line_reference(line)

    def outcome(parse: Callable[[bytes], Parsed], line: bytes) -> object:
        try:
            return parse(line)
        except BadLine as bad:
            return bad.reason

    limit = sys.getrecursionlimit()
    outcomes = set()
    for depth in range(limit - 60, limit + 10):
        line = b'{"data": [], "x": ' + b"[" * depth + b"]" * depth + b"}"
        expected = outcome(reference, line)
        assert outcome(parse_json_line, line) == expected, depth
        outcomes.add(expected if isinstance(expected, str) else "ok")
    assert outcomes == {"ok", INVALID_JSON}  # the range crossed the limit


# JSON that only the skipped part of a line gets wrong: msgspec skips fields it does not
# name, and must still refuse a line json.loads refuses (the reference then rejects it).
SKIPPED_BAD = [b"01", b"-", b"1.", b".5", b"1e", b'"\\q"', b'"\\u12G4"', b"[1,]", b'{"a":1,}']
SKIPPED_BAD += [b"tru", b"[1 2]", b'{"a" 1}', b"{1:2}", b'"a\x01"', b'"\xff"']


@pytest.mark.parametrize("value", SKIPPED_BAD)
def test_bad_json_in_a_skipped_field_is_still_rejected(value: bytes) -> None:
    for template in (b'{"data": [], "x": %s}', b'{"x": {"y": [%s]}, "meta": {}}'):
        line = template % value
        assert parse_fast(line) is None
        with pytest.raises(BadLine) as caught:
            parse_json_line(line)
        assert caught.value.reason in (INVALID_JSON, INVALID_UTF8)


def test_jsonl_reader_gives_the_same_records_wherever_its_blocks_are_parsed() -> None:
    data = (DATA / "bad_lines.jsonl").read_bytes() + (TWARC / "withheld.jsonl").read_bytes()

    def one_line_blocks(stream: IO[bytes], name: str) -> Iterator[JsonlBlock]:
        for number, line in enumerate(stream, start=1):  # as a worker pool might cut it
            yield pickle.loads(pickle.dumps(parse_block(line, name, number)))

    results = []
    for blocks in (serial_blocks, one_line_blocks):
        rejects: list[Reject] = []
        reader = JsonlReader(io.BytesIO(data), "j", rejects.append, blocks=blocks)
        results.append(([p.rows for p in reader], rejects, reader.records))
    assert results[0][0] and results[0][1]
    flat = [[row for rows in result[0] for row in rows] for result in results]
    assert flat[0] == flat[1]
    assert results[0][1:] == results[1][1:]
