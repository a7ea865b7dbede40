"""Fuzz the input readers: they never crash and never accept an id outside 1..2^63-1.

Arbitrary bytes, and near-valid twarc pages / CSV rows whose ids are drawn from the
values that break parsers (floats, huge and negative integers, signs, blanks, Unicode
digits, 5000-digit strings). Whatever a reader yields must be a valid row; whatever
it refuses must go to on_reject, never escape as an exception.
"""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retweetctl.errors import UsageError
from retweetctl.fetch import parse_tweet_id
from retweetctl.ingest import Retweet, Row
from retweetctl.readers import (
    BadLine,
    CsvReader,
    JsonlReader,
    Reject,
    parse_id,
    parse_json_line_reference,
)
from retweetctl.readers.fast import parse_fast

MAX_ID = 2**63 - 1
CI = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STRESS = settings(max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))

HOSTILE_ID_TEXT = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(
        [
            "0",
            "00",
            "-0",
            "+1",
            " 1",
            "1 ",
            "1_0",
            "0x1",
            "1e3",
            "1.0",
            "",
            "\u0661",
            "\u00b2",
            "\uff11",
            "9223372036854775807",
            "9223372036854775808",
            "1" * 5000,
            "0" * 30 + "7",
        ]
    ),  # fmt: skip
    st.text(alphabet="0123456789+-_ .e\u0661\u00b2", max_size=25),
)
HOSTILE_ID = st.one_of(
    HOSTILE_ID_TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)


# Any JSON value, for the places where a page may hold something unexpected.
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def mostly(
    good: st.SearchStrategy[object], bad: st.SearchStrategy[object]
) -> st.SearchStrategy[object]:
    """good 19 times in 20: a dozen fields, each often hostile, would leave no valid line."""
    return st.sampled_from(range(20)).flatmap(lambda n: bad if n == 0 else good)


MENTION = st.fixed_dictionaries(
    {},
    optional={
        "start": mostly(st.sampled_from([3, 3, 0, 4]), JSON_VALUE),
        "username": mostly(st.sampled_from(["ab", "AB", "cd", ""]), JSON_VALUE),
        "id": mostly(st.sampled_from(["30", "0"]), HOSTILE_ID),
    },
)
TWEET = st.fixed_dictionaries(
    {
        "author_id": mostly(st.just("10"), HOSTILE_ID),
        "id": mostly(st.just("900"), HOSTILE_ID),
        "text": mostly(st.sampled_from(["RT @ab: x", "RT @AB", "rt @ab", "x"]), JSON_VALUE),
        "entities": mostly(
            st.fixed_dictionaries({"mentions": st.lists(MENTION, min_size=1, max_size=2)}),
            JSON_VALUE,
        ),
        "referenced_tweets": mostly(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(["retweeted", "quoted"]),
                        "id": mostly(st.just("5"), HOSTILE_ID),
                    },
                    optional={"author_id": mostly(st.just("40"), HOSTILE_ID)},
                ),
                max_size=2,
            ),
            JSON_VALUE,
        ),
    },
    optional={
        "created_at": mostly(
            st.sampled_from(["2021-06-15T10:00:00.000Z", "2021-06-15", "x"]), JSON_VALUE
        ),
        "username": st.sampled_from(["ab", "cd"]),
    },
)
USER = st.fixed_dictionaries(
    {"id": mostly(st.sampled_from(["20", "21"]), HOSTILE_ID)},
    optional={"username": mostly(st.sampled_from(["ab", "Ab", "cd"]), JSON_VALUE)},
)
PAGE = st.fixed_dictionaries(
    {"data": mostly(st.one_of(st.lists(TWEET, max_size=3), TWEET), JSON_VALUE)},
    optional={
        "includes": mostly(
            st.fixed_dictionaries(
                {},
                optional={
                    "tweets": mostly(
                        st.lists(
                            st.fixed_dictionaries(
                                {"id": mostly(st.just("5"), HOSTILE_ID)},
                                optional={"author_id": mostly(st.just("40"), HOSTILE_ID)},
                            ),
                            max_size=2,
                        ),
                        JSON_VALUE,
                    ),
                    "users": mostly(st.one_of(st.lists(USER, max_size=2), USER), JSON_VALUE),
                },
            ),
            JSON_VALUE,
        ),
        "__twarc": mostly(
            st.fixed_dictionaries(
                {
                    "url": st.sampled_from(
                        ["https://x/2/tweets/7/retweeted_by", "https://x/2/tweets/search"]
                    )
                }
            ),
            JSON_VALUE,
        ),
    },
)
# A page, a flattened tweet or a flattened user.
LINE = st.one_of(PAGE, TWEET, USER)


def valid(row: Row) -> bool:
    """Three ids in range; a Retweet's own id and time valid or unknown."""
    ids_ok = all(type(v) is int and 0 < v <= MAX_ID for v in row[:3])
    if type(row) is tuple:
        return len(row) == 3 and ids_ok
    assert type(row) is Retweet
    own_id = row.retweet_id is None or (
        type(row.retweet_id) is int and 0 < row.retweet_id <= MAX_ID
    )
    when = row.retweeted_at is None or row.retweeted_at.tzinfo is not None
    return ids_ok and own_id and when


def read_csv(data: bytes) -> tuple[list[Row], list[Reject]]:
    rejects: list[Reject] = []
    reader = CsvReader(io.BytesIO(data), "fuzz.csv", rejects.append)
    return [row for parsed in reader for row in parsed.rows], rejects


def read_jsonl(data: bytes) -> tuple[list[Row], list[Reject]]:
    rejects: list[Reject] = []
    reader = JsonlReader(io.BytesIO(data), "fuzz.jsonl", rejects.append)
    return [row for parsed in reader for row in parsed.rows], rejects


def twarc_line(retweeter: object, original: object, author: object) -> bytes:
    page = {
        "data": [{"id": "9", "author_id": retweeter, "text": "RT",
                  "referenced_tweets": [{"type": "retweeted", "id": original}]}],
        "includes": {"tweets": [{"id": original, "author_id": author}]},
    }  # fmt: skip
    return json.dumps(page).encode() + b"\n"


def check_csv(body: bytes) -> None:
    rows, _ = read_csv(b"tweet_id,retweeter_id,author_id\n" + body)
    assert all(valid(row) for row in rows), rows


def check_jsonl(data: bytes) -> None:
    rows, _ = read_jsonl(data)
    assert all(valid(row) for row in rows), rows


def check_csv_ids(t: str, r: str, a: str) -> None:
    rows, rejects = read_csv(f"tweet_id,retweeter_id,author_id\n{t},{r},{a}\n".encode())
    assert all(valid(row) for row in rows)
    assert len(rows) + len(rejects) <= 1


def check_twarc_ids(retweeter: object, original: object, author: object) -> None:
    rows, rejects = read_jsonl(twarc_line(retweeter, original, author))
    assert all(valid(row) for row in rows)
    assert len(rows) + len(rejects) <= 1


def check_parse_id(value: object) -> None:
    try:
        number = parse_id(value, "x")
    except Exception as exc:  # only the reader's own refusal is allowed
        assert type(exc).__name__ == "BadLine", repr(exc)
    else:
        assert type(number) is int and 0 < number <= MAX_ID


def check_tweet_id(text: str) -> None:
    try:
        number = parse_tweet_id(text)
    except UsageError:
        return
    assert 0 < number <= MAX_ID and text.strip().isascii()


def check_fast_agrees_with_reference(value: object) -> None:
    """The fast decoder answers exactly as the reference walk, or leaves the line to it."""
    check_fast_agrees_on_bytes(json.dumps(value).encode())


def check_fast_agrees_on_bytes(line: bytes) -> None:
    fast = parse_fast(line)
    try:
        reference = parse_json_line_reference(line)
    except BadLine:
        assert fast is None
        return
    assert fast is None or fast == reference


CHECKS = [
    (check_csv, (st.binary(max_size=400),)),
    (check_jsonl, (st.binary(max_size=400),)),
    (check_csv_ids, (HOSTILE_ID_TEXT, HOSTILE_ID_TEXT, HOSTILE_ID_TEXT)),
    (check_twarc_ids, (HOSTILE_ID, HOSTILE_ID, HOSTILE_ID)),
    (check_parse_id, (HOSTILE_ID,)),
    (check_fast_agrees_with_reference, (LINE,)),
    (check_fast_agrees_on_bytes, (st.binary(max_size=200),)),
    (check_tweet_id, (st.one_of(HOSTILE_ID_TEXT, st.text(max_size=30)),)),
]


@pytest.mark.parametrize(("check", "strategies"), CHECKS, ids=[c.__name__ for c, _ in CHECKS])
def test_readers_never_crash_nor_accept_bad_ids(check, strategies) -> None:  # type: ignore[no-untyped-def]
    CI(given(*strategies)(check))()


@pytest.mark.stress
@pytest.mark.timeout(1800)
@pytest.mark.parametrize(("check", "strategies"), CHECKS, ids=[c.__name__ for c, _ in CHECKS])
def test_stress_readers_never_crash_nor_accept_bad_ids(check, strategies) -> None:  # type: ignore[no-untyped-def]
    STRESS(given(*strategies)(check))()


def test_the_inputs_that_crashed_the_readers() -> None:
    """Found by this suite: int() refuses more than 4300 digits; a list as an id is unhashable."""
    check_twarc_ids(None, [], None)
    check_twarc_ids("1", "2", "3")
    for check in (check_csv_ids, check_twarc_ids):
        check("1" * 5000, "2", "3")  # type: ignore[operator]
        check("1", "2", "1" * 5000)  # type: ignore[operator]
    check_parse_id("1" * 5000)
    check_tweet_id("1" * 5000)
    assert read_csv(b"tweet_id,retweeter_id,author_id\n1," + b"9" * 5000 + b",3\n")[0] == []
