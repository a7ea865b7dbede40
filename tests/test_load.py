"""`load` as a library against a real PostgreSQL: twarc captures, bad input, atomicity, authors."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
import pytest

from retweetctl.database import Connection
from retweetctl.errors import ExitCode
from retweetctl.load import LoadAborted, LoadOptions, LoadReport, load_files
from retweetctl.readers import (
    AUTHOR_UNKNOWN,
    ID_OUT_OF_RANGE,
    INVALID_CSV,
    INVALID_ID,
    INVALID_JSON,
    INVALID_UTF8,
    MISSING_ID,
    NOT_AN_OBJECT,
    ORIGINAL_NOT_IN_INCLUDES,
    UNRECOGNISED,
    WRONG_FIELD_COUNT,
)

TESTS = Path(__file__).resolve().parent
TWARC = TESTS / "data" / "twarc"
BAD = TESTS / "data" / "load"

# Retweets per capture, from the fixtures' README (a third, hand-written source for the counts).
README_RETWEETS = {
    "two_tweets.jsonl": 1,
    "mentions_tweet.jsonl": 1,
    "brexit.jsonl": 67,
    "kpop.jsonl": 78,
    "2sets.jsonl": 145,
    "noflat.jsonl": 47,
    "flat.jsonl": 47,
    "media_policy_violation_off.jsonl": 42,
    "media_policy_violation_on.jsonl": 42,
    "entities_test.jsonl": 314,
    "withheld.jsonl": 83,
}


class Walk(NamedTuple):
    """What a plain walk of a capture finds (independently of retweetctl's readers)."""

    found: int  # retweets
    rows: set[tuple[int, int, int]]  # distinct rows, first occurrence of a pair wins
    missing: int  # retweets whose original is absent and which the RT text cannot attribute
    mentioned: set[tuple[int, int, int]]  # rows attributed from the `RT @name:` mention
    attributed: int  # retweets attributed so (repeats included)
    details: dict[tuple[int, int], tuple[int, str]]  # (tweet, retweeter) -> (retweet id, time)


def rt_mention_author(tweet: dict[str, Any], users: dict[str, str]) -> str | None:
    """Issue 15's rule, written out: the first mention at offset 3 of an `RT @` text."""
    mentions = tweet.get("entities", {}).get("mentions", [])
    if not tweet.get("text", "").startswith("RT @") or not mentions:
        return None
    first = mentions[0]
    if first.get("start") != 3:
        return None
    if "id" in first:
        return str(first["id"])
    return users.get(first.get("username", "").lower())


def walk_capture(path: Path) -> Walk:
    found = missing = attributed = 0
    rows: dict[tuple[int, int], int] = {}
    mentioned: set[tuple[int, int, int]] = set()
    details: dict[tuple[int, int], tuple[int, str]] = {}
    for text in path.read_text(encoding="utf-8").splitlines():
        line = json.loads(text)
        if "data" in line:
            tweets = line["data"] if isinstance(line["data"], list) else [line["data"]]
            authors = {t["id"]: t["author_id"] for t in line.get("includes", {}).get("tweets", [])}
            users = {
                u["username"].lower(): u["id"] for u in line.get("includes", {}).get("users", [])
            }
        else:  # flattened: the original is inlined in referenced_tweets when twarc had it
            tweets = [line]
            authors = {
                ref["id"]: ref["author_id"]
                for ref in line.get("referenced_tweets", [])
                if "author_id" in ref
            }
            users = {}
        for tweet in tweets:
            for ref in tweet.get("referenced_tweets", []):
                if ref["type"] != "retweeted":
                    continue
                found += 1
                key = (int(ref["id"]), int(tweet["author_id"]))
                author = authors.get(ref["id"])
                if author is None:
                    author = rt_mention_author(tweet, users)
                    if author is None:
                        missing += 1
                        continue
                    attributed += 1
                    if key not in rows:
                        mentioned.add((*key, int(author)))
                details.setdefault(key, (int(tweet["id"]), tweet["created_at"]))
                rows.setdefault(key, int(author))
    return Walk(
        found,
        {(t, r, a) for (t, r), a in rows.items()},
        missing,
        mentioned,
        attributed,
        details,
    )


FROM_MENTION = "SELECT tweet_id, retweeter_id, author_id FROM retweets WHERE author_from_mention"


def table(conn: Connection) -> set[tuple[Any, ...]]:
    return set(conn.execute("SELECT tweet_id, retweeter_id, author_id FROM retweets").fetchall())


def count(conn: Connection, sql: str) -> int:
    row = conn.execute(sql).fetchone()  # noqa: S608 - test constants
    assert row is not None
    return int(row[0])  # type: ignore[call-overload]


def load(conn: Connection, names: list[Path | str], tmp_path: Path, **options: Any) -> LoadReport:
    return load_files(conn, [str(n) for n in names], LoadOptions(**options), rejects_dir=tmp_path)


@pytest.mark.parametrize("name", sorted(README_RETWEETS))
def test_twarc_capture_counts_are_exact(name: str, conn: Connection, tmp_path: Path) -> None:
    found, rows, missing, mentioned, attributed, _ = walk_capture(TWARC / name)
    assert found == README_RETWEETS[name]
    report = load(conn, [TWARC / name], tmp_path)
    result = report.files[0]
    assert result.format == "twarc"
    assert result.seen + sum(result.skipped.values()) == found
    assert result.skipped == ({ORIGINAL_NOT_IN_INCLUDES: missing} if missing else {})
    assert result.seen == found - missing
    assert result.from_mention == attributed
    assert result.added == len(rows)
    assert set(conn.execute(FROM_MENTION).fetchall()) == mentioned
    assert not result.rejected and result.committed
    assert table(conn) == rows
    again = load(conn, [TWARC / name], tmp_path).files[0]
    assert (again.seen, again.added) == (result.seen, 0)


def test_withheld_capture_attributes_29_of_38_missing_originals_from_the_rt_text(
    conn: Connection, tmp_path: Path
) -> None:
    # the one capture with originals missing from includes: issue 15's counts, by the walk
    walk = walk_capture(TWARC / "withheld.jsonl")
    assert (walk.missing + walk.attributed, walk.attributed) == (38, 29)
    result = load(conn, [TWARC / "withheld.jsonl"], tmp_path).files[0]
    assert result.skipped[ORIGINAL_NOT_IN_INCLUDES] == walk.missing == 9
    assert result.from_mention == 29
    stored = set(conn.execute(FROM_MENTION).fetchall())
    assert stored == walk.mentioned and len(stored) == 29
    # everything else came from includes, flagged false
    assert table(conn) - stored == walk.rows - walk.mentioned


@pytest.mark.parametrize("name", ["withheld.jsonl", "noflat.jsonl", "flat.jsonl", "kpop.jsonl"])
def test_loaded_rows_carry_each_retweets_own_id_and_time(
    name: str, conn: Connection, tmp_path: Path
) -> None:
    walk = walk_capture(TWARC / name)
    load(conn, [TWARC / name], tmp_path)
    stored = {
        (t, r): (rid, when)
        for t, r, rid, when in conn.execute(
            "SELECT tweet_id, retweeter_id, retweet_id, retweeted_at FROM retweets"
        ).fetchall()
    }
    expected = {
        key: (rid, datetime.fromisoformat(when)) for key, (rid, when) in walk.details.items()
    }
    assert stored == expected and len(stored) == len(walk.rows)


def test_flat_and_unflattened_captures_give_the_same_rows(conn: Connection, tmp_path: Path) -> None:
    first = load(conn, [TWARC / "noflat.jsonl"], tmp_path).files[0]
    before = table(conn)
    second = load(conn, [TWARC / "flat.jsonl"], tmp_path).files[0]
    assert first.added > 0 and second.seen == first.seen and second.added == 0
    assert table(conn) == before


def test_users_from_includes_fill_the_users_table(conn: Connection, tmp_path: Path) -> None:
    expected: dict[int, str] = {}
    for text in (TWARC / "2sets.jsonl").read_text(encoding="utf-8").splitlines():
        for user in json.loads(text).get("includes", {}).get("users", []):
            expected.setdefault(int(user["id"]), user["username"])
    conn.execute("INSERT INTO users (id, username) VALUES (%s, 'kept')", (next(iter(expected)),))
    conn.commit()
    result = load(conn, [TWARC / "2sets.jsonl"], tmp_path).files[0]
    stored = dict(conn.execute("SELECT id, username FROM users").fetchall())
    assert set(stored) == set(expected)
    assert stored[next(iter(expected))] == "kept"  # an archive never overwrites a stored name
    assert result.users == len(expected) - 1


# The first user in 2sets.jsonl's includes.
USER_NAMED_BY_2SETS = 1433267766912557062


def test_a_file_loaded_again_neither_writes_nor_locks_its_users(
    conn: Connection, tmp_path: Path
) -> None:
    # A user without a name yet, which the file names: the only row the second load writes.
    conn.execute("INSERT INTO users (id) VALUES (%s)", (USER_NAMED_BY_2SETS,))
    conn.commit()
    assert load(conn, [TWARC / "2sets.jsonl"], tmp_path).files[0].users > 0
    conn.execute("UPDATE users SET username = NULL WHERE id = %s", (USER_NAMED_BY_2SETS,))
    conn.commit()
    rows = "SELECT id, xmin::text, xmax::text FROM users ORDER BY id"
    before = conn.execute(rows).fetchall()
    conn.commit()
    again = load(conn, [TWARC / "2sets.jsonl"], tmp_path).files[0]
    after = conn.execute(rows).fetchall()
    assert again.users == 1
    changed = [new for old, new in zip(before, after, strict=True) if old != new]
    # Every other row as it was, xmax included: ON CONFLICT … WHERE would have locked
    # each skipped row (its xmax set to the load's transaction) for nothing.
    assert [row[0] for row in changed] == [USER_NAMED_BY_2SETS]


def test_bad_jsonl_lines_go_to_the_rejects_file(conn: Connection, tmp_path: Path) -> None:
    result = load(conn, [BAD / "bad_lines.jsonl"], tmp_path).files[0]
    assert table(conn) == {(101, 11, 1), (102, 12, 2), (102, 13, 2)}
    assert (result.seen, result.added, result.records) == (3, 3, 16)
    assert result.skipped == {ORIGINAL_NOT_IN_INCLUDES: 1}
    assert result.rejected == {
        INVALID_JSON: 2,
        NOT_AN_OBJECT: 1,
        UNRECOGNISED: 1,
        INVALID_UTF8: 1,
        INVALID_ID: 5,
        ID_OUT_OF_RANGE: 2,
        MISSING_ID: 1,
    }
    rejects_file = tmp_path / "bad_lines.jsonl.rejects.jsonl"
    assert result.rejects_file == str(rejects_file)
    lines = (BAD / "bad_lines.jsonl").read_bytes().split(b"\n")
    records = [json.loads(line) for line in rejects_file.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 13
    for record in records:
        assert set(record) == {"input", "line", "reason", "detail", "raw"}
        assert record["input"] == str(BAD / "bad_lines.jsonl")
        original = lines[record["line"] - 1]
        assert record["raw"] == original.decode("utf-8", "backslashreplace")
    by_line = {record["line"]: record for record in records}
    assert by_line[6]["raw"].endswith('"caf\\xe9"}')  # invalid UTF-8 kept visible, JSON-safe
    assert "\x00" in by_line[16]["raw"]


def test_bad_csv_rows_go_to_the_rejects_file(conn: Connection, tmp_path: Path) -> None:
    chosen = tmp_path / "mine.jsonl"
    result = load(conn, [BAD / "bad_rows.csv"], tmp_path, rejects=chosen).files[0]
    max_id = 2**63 - 1
    assert table(conn) == {
        (101, 11, 1),
        (101, 12, 1),
        (101, 14, 1),
        (max_id, 15, max_id),
        (101, 17, 1),
    }
    assert (result.format, result.seen, result.added) == ("csv", 5, 5)
    assert result.rejected == {
        WRONG_FIELD_COUNT: 1,
        INVALID_CSV: 1,
        INVALID_ID: 7,
        ID_OUT_OF_RANGE: 2,
    }
    assert result.rejects_file == str(chosen)
    assert len(chosen.read_text(encoding="utf-8").splitlines()) == 11


def test_strict_stops_at_the_first_bad_line_with_nothing_loaded(
    conn: Connection, tmp_path: Path
) -> None:
    good = TWARC / "brexit.jsonl"
    with pytest.raises(LoadAborted) as caught:
        load(conn, [good, BAD / "bad_rows.csv", TWARC / "kpop.jsonl"], tmp_path, strict=True)
    assert caught.value.exit_code == ExitCode.DATA_ERROR
    assert "bad_rows.csv line 3: wrong number of fields" in caught.value.message
    assert table(conn) == set()
    assert count(conn, "SELECT count(*) FROM users") == 0
    assert count(conn, "SELECT count(*) FROM retweet_staging") == 0
    assert [r.committed for r in caught.value.report.files] == [False, False]


def test_strict_on_clean_files_loads_them(conn: Connection, tmp_path: Path) -> None:
    report = load(conn, [TWARC / "brexit.jsonl", TWARC / "kpop.jsonl"], tmp_path, strict=True)
    assert all(r.committed for r in report.files)
    assert report.total().added == len(table(conn)) > 0


def test_a_missing_file_loads_nothing_at_all(conn: Connection, tmp_path: Path) -> None:
    with pytest.raises(LoadAborted) as caught:
        load(conn, [TWARC / "brexit.jsonl", tmp_path / "nope.jsonl"], tmp_path)
    assert caught.value.exit_code == ExitCode.NO_INPUT
    assert "nope.jsonl" in caught.value.message
    assert table(conn) == set()


def test_a_file_vanishing_mid_run_keeps_the_committed_ones(
    conn: Connection, tmp_path: Path
) -> None:
    first, second, third = (
        shutil.copy(TWARC / n, tmp_path / n) for n in ("brexit.jsonl", "kpop.jsonl", "2sets.jsonl")
    )

    def progress(name: str, size: int | None) -> Callable[[int], None] | None:
        if name == str(first):
            os.unlink(second)  # after the up-front check, before its turn
        return None

    with pytest.raises(LoadAborted) as caught:
        load_files(
            conn, [str(first), str(second), str(third)], progress=progress, rejects_dir=tmp_path
        )
    assert caught.value.exit_code == ExitCode.NO_INPUT
    report = caught.value.report
    assert [(r.input, r.committed) for r in report.files] == [
        (str(first), True),
        (str(second), False),
    ]
    assert table(conn) == walk_capture(TWARC / "brexit.jsonl")[1]
    assert count(conn, "SELECT count(*) FROM fetch_runs WHERE status = 'failed'") == 1


def test_a_file_without_the_csv_header_stops_the_run_after_the_committed_ones(
    conn: Connection, tmp_path: Path
) -> None:
    names = [TWARC / "two_tweets.jsonl", BAD / "no_header.csv", TWARC / "brexit.jsonl"]
    with pytest.raises(LoadAborted) as caught:
        load(conn, names, tmp_path)
    assert caught.value.exit_code == ExitCode.DATA_ERROR
    assert "missing: tweet_id, retweeter_id, author_id" in caught.value.message
    assert [r.committed for r in caught.value.report.files] == [True, False]
    assert table(conn) == walk_capture(TWARC / "two_tweets.jsonl")[1]


def test_a_binary_file_is_refused_before_anything_is_loaded(
    conn: Connection, tmp_path: Path
) -> None:
    with pytest.raises(LoadAborted) as caught:
        load(conn, [TWARC / "two_tweets.jsonl", BAD / "binary.dat"], tmp_path)
    assert caught.value.exit_code == ExitCode.DATA_ERROR
    assert "binary.dat looks binary" in caught.value.message
    assert caught.value.report.files == []
    assert table(conn) == set()


def test_an_empty_file_says_so(conn: Connection, tmp_path: Path) -> None:
    result = load(conn, [BAD / "empty.jsonl"], tmp_path).files[0]
    assert result.note is not None and "empty" in result.note
    assert (result.seen, result.committed) == (0, True)


def test_a_database_error_mid_file_rolls_that_file_back(conn: Connection, tmp_path: Path) -> None:
    conn.execute(
        """
        CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'refused by test trigger'; END $$;
        CREATE TRIGGER refuse BEFORE INSERT ON retweets
        FOR EACH ROW WHEN (NEW.tweet_id = 102) EXECUTE FUNCTION refuse();
        """
    )
    conn.commit()
    with pytest.raises(LoadAborted) as caught:
        load(conn, [TWARC / "two_tweets.jsonl", BAD / "bad_lines.jsonl"], tmp_path)
    assert isinstance(caught.value.cause, psycopg.errors.RaiseException)
    assert [r.committed for r in caught.value.report.files] == [True, False]
    assert table(conn) == walk_capture(TWARC / "two_tweets.jsonl")[1]  # not even (101, 11, 1)
    assert not conn.execute("SELECT 1 FROM users WHERE id = 7").fetchall()
    assert count(conn, "SELECT count(*) FROM retweet_staging") == 0


def test_retweeted_by_pages_need_a_known_author(conn: Connection, tmp_path: Path) -> None:
    pages = BAD / "retweeted_by.jsonl"  # tweets 500 and 501, retweeted by users 21 and 22
    result = load(conn, [pages], tmp_path).files[0]
    assert (result.seen, result.skipped) == (0, {AUTHOR_UNKNOWN: 4})
    assert dict(conn.execute("SELECT id, username FROM users").fetchall()) == {21: "a21", 22: "a22"}
    conn.execute("INSERT INTO watched_tweets (tweet_id, author_id) VALUES (500, 5)")
    conn.execute("INSERT INTO retweets VALUES (501, 99, 6)")
    conn.commit()
    result = load(conn, [pages], tmp_path).files[0]
    assert (result.seen, result.added, result.skipped) == (4, 4, {})
    assert table(conn) == {(500, 21, 5), (500, 22, 5), (501, 21, 6), (501, 22, 6), (501, 99, 6)}


def test_retweeted_by_author_from_the_option(conn: Connection, tmp_path: Path) -> None:
    result = load(conn, [BAD / "retweeted_by.jsonl"], tmp_path, author=8).files[0]
    assert (result.seen, result.added) == (4, 4)
    assert {row[2] for row in table(conn)} == {8}


def test_retweeted_by_author_from_earlier_in_the_same_file(
    conn: Connection, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.jsonl"
    page = {
        "data": [
            {
                "id": "1",
                "author_id": "30",
                "referenced_tweets": [{"type": "retweeted", "id": "500"}],
            }
        ],
        "includes": {"tweets": [{"id": "500", "author_id": "5"}]},
    }
    path.write_bytes(json.dumps(page).encode() + b"\n" + (BAD / "retweeted_by.jsonl").read_bytes())
    result = load(conn, [path], tmp_path).files[0]
    assert (result.seen, result.skipped) == (3, {AUTHOR_UNKNOWN: 2})
    assert table(conn) == {(500, 30, 5), (500, 21, 5), (500, 22, 5)}


def test_stdin(conn: Connection, tmp_path: Path) -> None:
    data = b"tweet_id,retweeter_id,author_id\n1,2,3\n1,2,3\n4,5,6\n"
    report = load_files(conn, ["-"], stdin=io.BytesIO(data), rejects_dir=tmp_path)
    assert (report.files[0].seen, report.files[0].added) == (3, 2)
    with pytest.raises(LoadAborted, match="only once"):
        load_files(conn, ["-", "-"], stdin=io.BytesIO(data), rejects_dir=tmp_path)


def test_format_option_overrides_sniffing(conn: Connection, tmp_path: Path) -> None:
    with pytest.raises(LoadAborted, match="all 18 records were rejected") as caught:
        load(conn, [BAD / "bad_rows.csv"], tmp_path, format="twarc")
    assert caught.value.exit_code == ExitCode.DATA_ERROR  # no line is JSON: a failure
    result = caught.value.report.files[0]
    assert result.seen == 0 and sum(result.rejected.values()) == 18


def test_each_run_leaves_an_audit_row(conn: Connection, tmp_path: Path) -> None:
    load(conn, [TWARC / "brexit.jsonl"], tmp_path)
    runs = conn.execute("SELECT command, seen, added, status FROM fetch_runs").fetchall()
    assert runs == [("load", 67, len(walk_capture(TWARC / "brexit.jsonl")[1]), "ok")]


@pytest.mark.parametrize("name", ["2sets.jsonl", "../load/bad_rows.csv"])
def test_progress_reports_bytes_up_to_the_file_size(
    name: str, conn: Connection, tmp_path: Path
) -> None:
    path = (TWARC / name).resolve()
    seen: list[tuple[str, int | None, int]] = []

    def progress(input: str, size: int | None) -> Callable[[int], None]:
        return lambda done: seen.append((input, size, done))

    load_files(conn, [str(path)], progress=progress, rejects_dir=tmp_path)
    size = path.stat().st_size
    assert seen and seen[-1] == (str(path), size, size)
    assert [done for _, _, done in seen] == sorted(done for _, _, done in seen)


def test_rejects_file_may_not_be_an_input(conn: Connection, tmp_path: Path) -> None:
    path = Path(shutil.copy(BAD / "bad_rows.csv", tmp_path / "in.csv"))
    with pytest.raises(LoadAborted, match="one of the inputs") as caught:
        load(conn, [path], tmp_path, rejects=path)
    assert caught.value.exit_code == ExitCode.USAGE
    assert path.read_bytes() == (BAD / "bad_rows.csv").read_bytes()


def test_an_unwritable_rejects_file_stops_the_file_it_belongs_to(
    conn: Connection, tmp_path: Path
) -> None:
    nowhere = tmp_path / "no such directory" / "r.jsonl"
    with pytest.raises(LoadAborted, match="cannot write the rejects file") as caught:
        load(conn, [TWARC / "brexit.jsonl", BAD / "bad_rows.csv"], tmp_path, rejects=nowhere)
    assert caught.value.exit_code == ExitCode.USAGE
    assert [r.committed for r in caught.value.report.files] == [True, False]
    assert table(conn) == walk_capture(TWARC / "brexit.jsonl")[1]


def test_csv_retweet_id_and_time_columns_are_stored(conn: Connection, tmp_path: Path) -> None:
    path = tmp_path / "times.csv"
    path.write_text(
        "tweet_id,retweeter_id,author_id,retweet_id,retweeted_at\n"
        "1,2,3,900,2021-06-15T12:00:00+02:00\n"
        "1,4,3,,\n",
        encoding="utf-8",
    )
    result = load(conn, [path], tmp_path).files[0]
    assert (result.seen, result.added, result.rejected) == (2, 2, {})
    stored = conn.execute(
        "SELECT retweeter_id, retweet_id, retweeted_at, author_from_mention FROM retweets"
        " ORDER BY retweeter_id"
    ).fetchall()
    assert stored == [
        (2, 900, datetime.fromisoformat("2021-06-15T10:00:00+00:00"), False),
        (4, None, None, False),
    ]
