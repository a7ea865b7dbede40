"""Write the synthetic bad-input files beside this script (run it to regenerate them).

Every file mixes good lines with one bad line per case, so a test can check
that the good rows land and each bad line is rejected with its reason.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
TWARC = {"url": "https://api.twitter.com/2/tweets/search/recent?query=x", "version": "2.14.1"}


def page(retweets: list[tuple[object, object, object]], *, drop_original: bool = False) -> bytes:
    """A search page: each (retweeter, original id, original author) gives one retweet."""
    data = [
        {
            "id": str(9000 + n),
            "author_id": retweeter,
            "text": "RT",
            "referenced_tweets": [{"type": "retweeted", "id": original}],
        }
        for n, (retweeter, original, _) in enumerate(retweets)
    ]
    includes = {
        "tweets": []
        if drop_original
        else [
            {"id": original, "author_id": author, "text": "x"} for _, original, author in retweets
        ],
        "users": [{"id": "7", "username": "seven", "name": "Seven"}],
    }
    body = {
        "data": data,
        "includes": includes,
        "meta": {"result_count": len(data)},
        "__twarc": TWARC,
    }
    return json.dumps(body).encode() + b"\n"


def jsonl() -> bytes:
    lines = [
        page([("11", "101", "1")]),  # 1 good
        b'{"data": [\n',  # 2 invalid JSON
        b"[1, 2]\n",  # 3 not an object
        b'{"hello": "world"}\n',  # 4 unrecognised
        b"\n",  # 5 blank: ignored
        b'{"data": [], "note": "caf\xe9"}\n',  # 6 invalid UTF-8
        page([(1.4e18, "102", "1")]),  # 7 float id
        page([(True, "102", "1")]),  # 8 bool id
        page([("+12", "102", "1")]),  # 9 sign
        page([(" 12", "102", "1")]),  # 10 space
        page([("\u0661\u0662", "102", "1")]),  # 11 unicode digits
        page([("9223372036854775808", "102", "1")]),  # 12 out of range
        page([("0", "102", "1")]),  # 13 zero
        page([(None, "102", "1")]),  # 14 missing author_id
        page([("12", "102", "2")], drop_original=True),  # 15 skipped: original missing
        b'{"data":\x00 1}\n',  # 16 NUL byte
        page([("12", "102", "2"), ("13", "102", "2")]),  # 17 good: 2 rows
    ]
    return b"".join(lines)


def csv() -> bytes:
    lines = [
        b"tweet_id,retweeter_id,author_id,note\n",
        b"101,11,1,ok\n",  # 2 good
        b"101,12\n",  # 3 wrong number of fields
        b"1.4e18,12,1,float\n",  # 4
        b"+101,12,1,sign\n",  # 5
        b"101, 12,1,space\n",  # 6
        "\u0661\u0662,12,1,unicode digits\n".encode(),  # 7
        b"9223372036854775808,12,1,out of range\n",  # 8
        b"0,12,1,zero\n",  # 9
        b",12,1,empty\n",  # 10
        b"101,12,1,caf\xe9\n",  # 11 good: invalid UTF-8 only in an ignored column
        b"10\xe91,13,1,bad byte in an id\n",  # 12
        b"101,14,1,nul\x00\n",  # 13 good: a NUL byte only in an ignored column
        b"1\x0001,16,1,nul in an id\n",  # 14
        b"\n",  # 15 blank: ignored
        b"9223372036854775807,15,9223372036854775807,max\n",  # 16 good
        b'"101","17",1,"quoted, with a comma"\n',  # 17 good
        b'101,18,"1\nan unclosed quote over two lines\n',  # 18-19: quote not closed at the end
    ]
    return b"".join(lines)


def retweeted_by(tweet_id: str) -> bytes:
    body = {
        "data": [
            {"id": "21", "username": "a21", "name": "A"},
            {"id": "22", "username": "a22", "name": "B\u0000"},  # NUL in a name: stored as NULL
        ],
        "meta": {"result_count": 2},
        "__twarc": {
            "url": f"https://api.twitter.com/2/tweets/{tweet_id}/retweeted_by?max_results=100"
        },
    }
    return json.dumps(body).encode() + b"\n"


def main() -> None:
    (HERE / "bad_lines.jsonl").write_bytes(jsonl())
    (HERE / "bad_rows.csv").write_bytes(csv())
    (HERE / "retweeted_by.jsonl").write_bytes(retweeted_by("500") + retweeted_by("501"))
    (HERE / "empty.jsonl").write_bytes(b"")
    (HERE / "binary.dat").write_bytes(bytes(range(256)) * 4)
    (HERE / "compressed.jsonl.gz").write_bytes(gzip.compress(page([("11", "101", "1")]), mtime=0))
    (HERE / "no_header.csv").write_bytes(b"101,11,1\n102,12,1\n")


if __name__ == "__main__":
    main()
