"""Small things the trial run found, each through the CLI as users run it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from retweetctl.sandbox import TWEET_GONE, retweet_post
from tests.conftest import CliResult, user_env

Cli = Callable[..., CliResult]
DATA = Path(__file__).resolve().parent / "data"


@pytest.mark.parametrize("args", [[], ["fetch"], ["db", "status"], ["watch", "add"]])
def test_dash_h_is_help(cli: Cli, args: list[str]) -> None:
    short, long = cli([*args, "-h"]), cli([*args, "--help"])
    assert short.exit_code == 0, short.stderr
    assert "Usage:" in short.stdout
    assert short.stdout == long.stdout


def test_load_json_and_fetch_json_share_top_level_seen_and_added(cli: Cli, tmp_path: Path) -> None:
    csv = tmp_path / "rows.csv"
    csv.write_text("tweet_id,retweeter_id,author_id\n1,2,3\n1,2,3\n1,4,3\n", encoding="ascii")
    out = json.loads(cli(["load", "--json", str(csv)]).stdout)
    assert (out["seen"], out["added"]) == (3, 2)
    assert (out["total"]["seen"], out["total"]["added"]) == (3, 2)
    # Input lines are "lines": "records" means rows in the text summary.
    (per_file,) = out["files"]
    assert per_file["lines"] == 3 and "records" not in per_file


def test_load_author_takes_at_name(cli: Cli, db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO users (id, username) VALUES (8, 'Eight')")
    pages = DATA / "load" / "retweeted_by.jsonl"  # tweets 500 and 501, retweeters 21 and 22
    result = cli(["load", "--json", "--author", "@eight", str(pages)])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["added"] == 4
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT DISTINCT author_id FROM retweets").fetchall() == [(8,)]
    unknown = cli(["load", "--author", "@nobody", str(pages)])
    assert unknown.exit_code == 2
    assert unknown.stderr.strip() == (
        "retweetctl: error: unknown user @nobody: no such username in the users table"
    )


def test_db_status_and_check_json(cli: Cli) -> None:
    status = cli(["db", "status", "--json"])
    assert status.exit_code == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["database"] == "configured"
    assert re.match(r"^\d+", info["server_version"])
    check = cli(["db", "check", "--json"])
    assert check.exit_code == 0, check.stderr
    assert json.loads(check.stdout) == {
        "ok": True, "cells": 0, "authors": 0, "retweeters": 0, "differences": 0, "shown": []
    }  # fmt: skip


def test_db_check_json_reports_differences_and_exits_65(cli: Cli, db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO retweets (tweet_id, retweeter_id, author_id) VALUES (1, 2, 3)")
    assert cli(["db", "check"]).exit_code == 0  # folds the pending deltas into the cells
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE retweet_cells SET n = n + 1")  # the aggregate now disagrees
    conn_check = cli(["db", "check", "--json"])
    assert conn_check.exit_code == 65
    out = json.loads(conn_check.stdout)
    assert out["ok"] is False and out["differences"] >= 1 and out["shown"]
    assert conn_check.stderr.count("\n") == 1


def test_db_status_json_embedded(tmp_path: Path) -> None:
    env = user_env(RETWEETCTL_HOME=str(tmp_path / "home"))
    done = subprocess.run(
        [sys.executable, "-m", "retweetctl", "db", "status", "--json"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["database"] == "embedded" and info["running"] is False
    assert info["data_dir"].startswith(str(tmp_path))


@pytest.fixture
def sandbox_serve() -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`python -m retweetctl.sandbox serve --port 0` running; its first lines of output."""
    server = subprocess.Popen(
        [sys.executable, "-m", "retweetctl.sandbox", "serve", "--port", "0"],
        stdout=subprocess.PIPE, text=True, env=user_env(),
    )  # fmt: skip
    try:
        assert server.stdout is not None
        lines = []
        while not lines or not lines[-1].lstrip().startswith("retweetctl fetch"):
            line = server.stdout.readline()
            assert line, "the sandbox exited before printing how to use it"
            lines.append(line.rstrip("\n"))
        yield server, lines
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_sandbox_serve_prints_the_exports_and_serves_several_tweets(
    sandbox_serve: tuple[subprocess.Popen[str], list[str]], cli_env: dict[str, str], db_url: str
) -> None:
    _, lines = sandbox_serve
    exports = dict(
        line.strip().removeprefix("export ").split("=", 1)
        for line in lines
        if line.strip().startswith("export ")
    )
    assert set(exports) == {"RETWEETCTL_API_BASE_URL", "X_BEARER_TOKEN"}
    ids = lines[-1].split()[2:]
    assert len(ids) >= 3
    # What a new user does next: paste the exports, run the printed command.
    env = {**cli_env, **exports, "RETWEETCTL_RETRY_BACKOFF": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "retweetctl", "fetch", "--json", *ids],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    tweets = {t["id"]: t for t in json.loads(done.stdout)["tweets"]}
    assert tweets.pop(str(TWEET_GONE))["status"] == "not_found"
    assert len(tweets) >= 3 and all(t["status"] == "ok" and t["added"] for t in tweets.values())
    with psycopg.connect(db_url) as conn:
        first = int(ids[0])
        row = conn.execute(
            "SELECT retweet_id, retweeted_at FROM retweets WHERE tweet_id = %s"
            " ORDER BY retweeted_at LIMIT 1",
            (first,),
        ).fetchone()
    assert row == retweet_post(first, 0)


def test_sandbox_serve_port_option_is_used(tmp_path: Path) -> None:
    free = subprocess.run(
        [sys.executable, "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0));"
                               " print(s.getsockname()[1])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "retweetctl.sandbox", "serve", "--port", free],
        stdout=subprocess.PIPE, text=True, env=user_env(),
    )  # fmt: skip
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert f"http://127.0.0.1:{free};" in first
    finally:
        server.terminate()
        server.wait(timeout=30)
