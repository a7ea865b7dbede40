"""`matrix --since/--until` against a GROUP BY … WHERE retweeted_at truth; times in edge exports."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import UTC, datetime, timedelta

import networkx as nx
import psycopg
import pytest

from retweetctl.errors import ExitCode
from retweetctl.ingest import Retweet, merge_rows
from tests import test_matrix
from tests.test_matrix import Run

filled = test_matrix.filled
matrix_cli = test_matrix.matrix_cli

START = datetime(2024, 5, 1, tzinfo=UTC)
UNTIMED = 40


@pytest.fixture
def timed(db_url: str) -> str:
    """600 retweets spread over 10 days of May 2024, and UNTIMED rows without a time."""
    rng = random.Random(11)
    rows = [
        Retweet(
            tweet_id=i,
            retweeter_id=rng.randint(1, 30),
            author_id=rng.choice((100, 200, 300, 400)),
            retweet_id=10_000 + i,
            retweeted_at=START + timedelta(minutes=rng.randint(0, 10 * 24 * 60)),
        )
        for i in range(1, 601)
    ]
    rows += [Retweet(tweet_id=5_000 + i, retweeter_id=i % 7 + 1, author_id=100) for i in range(40)]
    with psycopg.connect(db_url) as conn:
        merge_rows(conn, rows)
    return db_url


def truth(
    url: str, since: str, until: str, author: int | None = None
) -> dict[tuple[int, int], int]:
    with psycopg.connect(url) as conn:
        return {
            (int(r), int(a)): int(n)
            for r, a, n in conn.execute(
                "SELECT retweeter_id, author_id, count(*) FROM retweets"
                " WHERE retweeted_at >= %s AND retweeted_at < %s"
                " AND (%s::bigint IS NULL OR author_id = %s) GROUP BY 1, 2",
                (since, until, author, author),
            )
        }


@pytest.mark.parametrize(
    ("args", "since", "until"),
    [
        (["--since", "2024-05-03"], "2024-05-03T00:00Z", "infinity"),
        (["--until", "2024-05-04"], "-infinity", "2024-05-05T00:00Z"),
        (
            ["--since", "2024-05-02T12:00:00+02:00", "--until", "2024-05-06T06:30:00"],
            "2024-05-02T10:00Z",
            "2024-05-06T06:30Z",
        ),
    ],
)
def test_the_window_matches_a_group_by(
    timed: str, matrix_cli: Run, args: list[str], since: str, until: str
) -> None:
    code, out, err = matrix_cli("-f", "json", "--all", *args)
    assert code == 0, err
    document = json.loads(out)
    got = {
        (int(r["id"]), int(a["id"])): document["counts"][i][j]
        for i, r in enumerate(document["retweeters"])
        for j, a in enumerate(document["authors"])
        if document["counts"][i][j]
    }
    assert got == truth(timed, since, until)
    assert f"{UNTIMED} retweets without a known time left out of the time window" in err


def test_the_window_keeps_the_other_filters(timed: str, matrix_cli: Run) -> None:
    code, out, err = matrix_cli(
        "-f", "edges", "--since", "2024-05-05", "--author", "200", "--min-count", "2"
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    expected = {
        k: n for k, n in truth(timed, "2024-05-05T00:00Z", "infinity", author=200).items() if n >= 2
    }
    assert {(int(r["retweeter_id"]), int(r["author_id"])): int(r["count"]) for r in rows} == (
        expected
    )
    assert "without a known time" not in err  # author 200 has no untimed rows


def test_edges_carry_the_first_and_last_time(timed: str, matrix_cli: Run) -> None:
    _, out, _ = matrix_cli("-f", "edges")
    rows = list(csv.DictReader(io.StringIO(out)))
    with psycopg.connect(timed) as conn:
        expected = {
            (int(r), int(a)): (int(n), first, last)
            for r, a, n, first, last in conn.execute(
                "SELECT retweeter_id, author_id, count(*), min(retweeted_at), max(retweeted_at)"
                " FROM retweets GROUP BY 1, 2"
            )
        }
    assert len(rows) == len(expected)
    for row in rows:
        n, first, last = expected[(int(row["retweeter_id"]), int(row["author_id"]))]
        assert int(row["count"]) == n
        if first is None:
            assert row["first_retweeted_at"] == row["last_retweeted_at"] == ""
        else:
            assert datetime.fromisoformat(row["first_retweeted_at"]) == first
            assert datetime.fromisoformat(row["last_retweeted_at"]) == last
            assert row["first_retweeted_at"].endswith("Z")
    _, out, _ = matrix_cli("-f", "graphml", "--since", "2024-05-01")
    graph = nx.read_graphml(io.BytesIO(out.encode()))
    some = next(iter(graph.edges(data=True)))[2]
    assert some["first_retweeted_at"] <= some["last_retweeted_at"]
    assert sum(d["weight"] for _, _, d in graph.edges(data=True)) == 600


def test_the_window_table_says_what_it_left_out(timed: str, matrix_cli: Run) -> None:
    code, out, err = matrix_cli("--since", "2024-06-01")
    assert (code, out) == (0, "no retweets match the filters\n")
    assert "40 retweets without a known time" in err


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "yesterday"],
        ["--until", "2024-13-01"],
        ["--since", "2024-05-05", "--until", "2024-05-01"],
    ],
)
def test_bad_windows_are_usage_errors(filled: str, matrix_cli: Run, args: list[str]) -> None:
    code, out, err = matrix_cli(*args)
    assert (code, out) == (ExitCode.USAGE, "")
    assert err.startswith("retweetctl: error:") and err.count("\n") == 1
