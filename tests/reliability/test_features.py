"""fetch and load under overlap, kill -9 and X API faults: exact tables, exact counts.

The fake X API (retweetctl.sandbox) runs in this process on 127.0.0.1; the CLI runs
as separate processes against it and the test database, as cron would run it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from retweetctl.errors import ExitCode
from retweetctl.sandbox import Fault, SandboxServer
from tests.reliability.features import (
    PAGE,
    Row,
    add_tweets,
    fetch_env,
    reported_added,
    write_csv,
    write_twarc,
)
from tests.reliability.harness import (
    assert_one_line_error,
    cli_command,
    count,
    leaks,
    retweets,
    run_all,
    spawn,
)

STRESS_ROUNDS = 10


def check_aggregate(env: dict[str, str], tmp_path: Path) -> None:
    """`retweetctl db check`: the matrix aggregate equals a fresh GROUP BY."""
    result = spawn(cli_command(["db", "check"]), env, tmp_path / "p").wait()
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "aggregate matches retweets" in result.stdout


def clear(url: str) -> None:
    """Empty what a run writes, between the kill points of one chain."""
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("retweets", "watched_tweets", "fetch_runs", "users"):
            conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))


# -- overlap ------------------------------------------------------------------------


def test_eight_processes_fetch_and_load_overlapping_tweets(
    sandbox: SandboxServer, cli_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    run_eight_processes(sandbox, cli_env, db_url, tmp_path)


@pytest.mark.stress
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("round_", range(STRESS_ROUNDS))
def test_stress_eight_processes(
    sandbox: SandboxServer, cli_env: dict[str, str], db_url: str, tmp_path: Path, round_: int
) -> None:
    run_eight_processes(sandbox, cli_env, db_url, tmp_path)


def run_eight_processes(
    sandbox: SandboxServer, cli_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    tweets = {
        601: (701, range(1, 251)),  # 3 pages
        602: (701, range(101, 351)),
        603: (702, range(201, 401)),
        604: (702, range(1, 151)),
    }
    served = add_tweets(sandbox, tweets)
    # Files hold part of what the API serves, plus retweeters the API no longer lists.
    file_rows: list[set[Row]] = [
        {(601, r, 701) for r in range(50, 300)},
        {(602, r, 701) for r in range(1, 200)} | {(604, r, 702) for r in range(100, 180)},
        {(603, r, 702) for r in range(150, 260)} | {(601, r, 701) for r in range(240, 260)},
        {(604, r, 702) for r in range(1, 400, 3)} | {(602, r, 701) for r in range(300, 330)},
    ]
    files = [
        write_csv(tmp_path / "a.csv", file_rows[0]),
        write_twarc(tmp_path / "b.jsonl", file_rows[1]),
        write_csv(tmp_path / "c.csv", file_rows[2]),
        write_twarc(tmp_path / "d.jsonl", file_rows[3]),
    ]
    fetches = [["601", "602"], ["602", "603"], ["603", "604", "601"], ["604", "601"]]
    commands = [cli_command(["fetch", "--limit", "0", "--json", *ids]) for ids in fetches]
    commands += [cli_command(["load", "--json", str(f)]) for f in files]
    env = fetch_env(cli_env, sandbox)
    results = run_all(commands, env, tmp_path / "p", cwd=tmp_path)
    assert [r.exit_code for r in results] == [0] * 8, [r.stderr for r in results]
    expected = set().union(*served.values(), *file_rows)
    stored = retweets(db_url)
    assert stored == expected  # the union; the primary key makes each pair once
    assert sum(reported_added(r.stdout) for r in results) == len(expected)
    assert count(db_url, "retweet_staging") == 0
    check_aggregate(env, tmp_path)
    assert leaks({f"run {i}": r.stdout + r.stderr for i, r in enumerate(results)}) == []


def pagination_runs(sandbox: SandboxServer, tweet_id: int) -> list[list[str | None]]:
    """The pagination tokens of each run through a tweet's pages, in the order requested."""
    tokens = [r.query.get("pagination_token") for r in sandbox.state.requests_to(
        rf"^/2/tweets/{tweet_id}/retweets$")]  # fmt: skip
    runs: list[list[str | None]] = []
    for token in tokens:
        if token is None:
            runs.append([])
        runs[-1].append(token)
    return runs


def test_two_watched_fetches_overlap_one_stuck_on_a_slow_api(
    sandbox: SandboxServer, cli_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    tweets = {611: (711, range(1, 251)), 612: (711, range(1, 120)), 613: (712, range(5, 90))}
    served = add_tweets(sandbox, tweets)
    env = fetch_env(cli_env, sandbox)
    added = spawn(cli_command(["watch", "add", "611", "612", "613"]), env, tmp_path / "p").wait()
    assert added.exit_code == 0, added.stderr
    # The first run's first page of 611 (the stalest: all unchecked, then by id) hangs 3 s.
    sandbox.state.fault(Fault(path=r"^/2/tweets/611/retweets$", status=None, delay=3.0))
    command = cli_command(["fetch", "--watched", "--limit", "0", "--json"])
    slow = spawn(command, env, tmp_path / "p")
    deadline = time.monotonic() + 30
    while not sandbox.state.requests_to(r"^/2/tweets/611/retweets$"):
        assert time.monotonic() < deadline and slow.popen.poll() is None, slow.stderr
        time.sleep(0.02)
    fast = spawn(command, env, tmp_path / "p").wait()
    stuck = slow.wait()
    assert (stuck.exit_code, fast.exit_code) == (0, 0), stuck.stderr + fast.stderr
    statuses = {t["id"]: t["status"] for t in json.loads(fast.stdout)["tweets"]}
    assert statuses["611"] == "skipped"  # locked by the stuck run: not fetched at once
    for tweet_id in tweets:
        pages = -(-len(tweets[tweet_id][1]) // PAGE)
        for run in pagination_runs(sandbox, tweet_id):
            assert len(run) == pages and len(set(run)) == pages, (tweet_id, run)
    expected = set().union(*served.values())
    assert retweets(db_url) == expected
    assert reported_added(stuck.stdout) + reported_added(fast.stdout) == len(expected)
    check_aggregate(env, tmp_path)


# kill -9 of load and fetch at each step of a transaction: test_kill_steps.py


# -- X API faults in the middle of a paginated tweet --------------------------------

HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
USAGE_CAPPED = json.dumps(
    {"title": "UsageCapExceeded", "type": "https://api.twitter.com/2/problems/usage-capped",
     "detail": "Usage cap exceeded: Monthly product cap", "status": 429}).encode()  # fmt: skip
RATE_LIMITED = json.dumps({"title": "Too Many Requests", "status": 429}).encode()
RESET = str(int(time.time()) + 900)
# name -> (fault on page 2 of tweet A, times, expected exit, words of the error; None: no error)
FAULTS: dict[str, tuple[Fault, int, int, str | None]] = {
    "429": (Fault("", 429, RATE_LIMITED, {"x-rate-limit-reset": RESET}), 1, 75, "rate limit"),
    "429-usage-cap": (Fault("", 429, USAGE_CAPPED), 1, 75, "usage cap"),
    "500-persistent": (Fault("", 500, b"{}"), 1000, 75, "http 500"),
    "503-once": (Fault("", 503, b""), 1, 0, None),
    "html-body": (Fault("", 200, HTML, content_type="text/html"), 1000, 75, "malformed"),
    "truncated-json": (Fault("", 200, b'{"data": [{"id": "1", "userna'), 1000, 75, "malformed"),
    "timeout": (Fault("", None, None, delay=3.0), 1000, 75, "in time"),
    "401": (Fault("", 401, b'{"title": "Unauthorized"}'), 1, 77, "credentials (http 401)"),
    "403": (Fault("", 403, b'{"title": "Forbidden"}'), 1, 77, "credentials (http 403)"),
}


@pytest.mark.parametrize("name", FAULTS)
def test_x_api_fault_in_the_middle_of_a_paginated_tweet(
    name: str, sandbox: SandboxServer, cli_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    fault, times, code, message = FAULTS[name]
    tweets = {641: (741, range(1, 301)), 642: (742, range(1, 51))}
    served = add_tweets(sandbox, tweets)
    path = r"^/2/tweets/641/retweets$"
    sandbox.state.fault(Fault(path, status=None))  # page 1 passes
    sandbox.state.fault(
        Fault(path, fault.status, fault.body, fault.headers, fault.delay, times, fault.content_type)
    )
    env = fetch_env(cli_env, sandbox, timeout="1")
    first = spawn(cli_command(["fetch", "--limit", "0", "641", "642"]), env, tmp_path / "p").wait()
    stored = retweets(db_url)
    page_one = {(641, r, 741) for r in range(1, PAGE + 1)}
    if code == 0:  # a transient fault: retried, nothing lost
        assert first.exit_code == 0, first.stderr
        assert stored == set().union(*served.values())
        assert len(sandbox.state.requests_to(path)) == 4  # pages 1, 2, 2 again, 3
    else:
        assert_one_line_error(first, [code])
        assert message and message in first.stderr.lower(), first.stderr
        # The page received before the fault is true and merged; nothing beyond it.
        assert {row for row in stored if row[0] == 641} == page_one, len(stored)
    assert leaks({"stdout": first.stdout, "stderr": first.stderr}) == []
    with sandbox.state.lock:
        sandbox.state.faults.clear()
    again = spawn(cli_command(["fetch", "--limit", "0", "641", "642"]), env, tmp_path / "p").wait()
    assert again.exit_code == 0, again.stderr
    assert retweets(db_url) == set().union(*served.values())


def test_x_api_gone_in_the_middle_of_a_paginated_tweet(
    cli_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    """The API host stops answering (connection refused) between page 2 and page 3."""
    tweets = {651: (751, range(1, 301)), 652: (752, range(1, 51))}
    command = cli_command(["fetch", "--limit", "0", "651", "652"])
    with SandboxServer() as sandbox:
        served = add_tweets(sandbox, tweets)
        path = r"^/2/tweets/651/retweets$"
        sandbox.state.fault(Fault(path, status=None))  # page 1 at once
        sandbox.state.fault(Fault(path, status=None, delay=1.0))  # page 2 slowly
        proc = spawn(command, fetch_env(cli_env, sandbox), tmp_path / "p")
        deadline = time.monotonic() + 60
        while len(sandbox.state.requests_to(path)) < 2:
            assert time.monotonic() < deadline and proc.popen.poll() is None, proc.stderr
            time.sleep(0.01)
    # The server is closed: page 2 is still answered, page 3 finds nobody listening.
    result = proc.wait()
    assert_one_line_error(result, [ExitCode.TEMPORARY])
    stored = {row for row in retweets(db_url) if row[0] == 651}
    assert stored == {(651, r, 751) for r in range(1, 2 * PAGE + 1)}  # pages 1 and 2
    with SandboxServer() as again:
        add_tweets(again, tweets)
        final = spawn(command, fetch_env(cli_env, again), tmp_path / "p").wait()
    assert final.exit_code == 0, final.stderr
    assert retweets(db_url) == set().union(*served.values())
