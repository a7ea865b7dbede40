"""Loading any split of a data set, in any order, any number of times, gives the same table."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retweetctl.database import Connection
from retweetctl.load import LoadOptions, load_files

Row = tuple[int, int, int]

# A retweet's author is a property of the tweet: derive it so the data set is consistent.
pairs = st.lists(
    st.tuples(st.integers(1, 12), st.integers(1, 12)).map(lambda p: (p[0], p[1], p[0] * 1000)),
    max_size=40,
)


def as_csv(rows: list[Row]) -> bytes:
    lines = ["retweeter_id,author_id,tweet_id"] + [f"{r},{a},{t}" for t, r, a in rows]
    return ("\n".join(lines) + "\n").encode()


def as_twarc(rows: list[Row]) -> bytes:
    """One search page per row: (tweet, retweeter, author) as a retweet with its original included."""
    out = []
    for n, (tweet, retweeter, author) in enumerate(rows):
        page = {
            "data": [
                {
                    "id": str(10**6 + n),
                    "author_id": str(retweeter),
                    "referenced_tweets": [{"type": "retweeted", "id": str(tweet)}],
                }
            ],
            "includes": {"tweets": [{"id": str(tweet), "author_id": str(author)}]},
        }
        out.append(json.dumps(page).encode() + b"\n")
    return b"".join(out)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), rows=pairs)
def test_any_split_any_order_any_repeats(
    conn: Connection, data: st.DataObject, rows: list[Row]
) -> None:
    conn.execute("TRUNCATE retweets")
    conn.commit()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(rows)), max_size=4)))
    bounds = [0, *cuts, len(rows)]
    parts = [rows[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    formats = data.draw(
        st.lists(st.sampled_from([as_csv, as_twarc]), min_size=len(parts), max_size=len(parts))
    )
    repeats = data.draw(st.lists(st.integers(1, 2), min_size=len(parts), max_size=len(parts)))
    with tempfile.TemporaryDirectory() as scratch:
        files = []
        for number, (part, fmt) in enumerate(zip(parts, formats, strict=True)):
            path = Path(scratch) / f"part{number}.{'csv' if fmt is as_csv else 'jsonl'}"
            path.write_bytes(fmt(part))
            files.extend([str(path)] * repeats[number])
        order = data.draw(st.permutations(files))
        per_call = data.draw(st.integers(1, 3))
        added = 0
        for start in range(0, len(order), per_call):
            report = load_files(
                conn, order[start : start + per_call], LoadOptions(), rejects_dir=Path(scratch)
            )
            added += report.total().added
            assert not report.total().rejected
    stored = set(conn.execute("SELECT tweet_id, retweeter_id, author_id FROM retweets").fetchall())
    assert stored == set(rows)
    assert added == len(stored)  # every row counted as added exactly once
