"""fetch and load under overlap, kill -9 and X API faults: exact tables, exact counts.

The fake X API (retweetctl.sandbox) runs in this process on 127.0.0.1; the CLI runs
as separate processes against it and the test database, as cron would run it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from retweetctl.embedded import EmbeddedServer
from retweetctl.errors import ExitCode
from retweetctl.sandbox import Fault, SandboxServer
from tests.conftest import TEMPLATE_DATABASE, CliResult, scratch_database
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
    kill_points,
    leaks,
    retweets,
    run_all,
    spawn,
)

SEED = 4242
# Kill points per command in CI (the issue asks for at least 20); make stress runs more.
KILLS = 20
STRESS_KILLS = 100
LANES = 2
STRESS_ROUNDS = 10


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as server:
        yield server


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


# -- kill -9 ------------------------------------------------------------------------


def kill_chain(
    command: list[str],
    env: dict[str, str],
    tmp_path: Path,
    seed: int,
    kills: int,
    check,  # type: ignore[no-untyped-def]
) -> Iterator[CliResult]:
    """Run command, kill -9 it at each seeded point and check; then run it to the end."""
    # Start-up (imports, connect) takes ~0.4 s: earlier kills would test nothing.
    for delay in kill_points(seed, kills, 0.4, 1.4):
        proc = spawn(command, env, tmp_path / "p", cwd=tmp_path)
        time.sleep(delay)
        proc.kill()
        check()
        yield CliResult(-9, proc.stdout, proc.stderr)


def in_lanes(pg_server: EmbeddedServer, tmp_path: Path, kills: int, run) -> None:  # type: ignore[no-untyped-def]
    """Split the kill points over LANES chains run side by side, each on its own database.

    The chains mostly sleep until their next kill, so lanes halve the wall time.
    """
    with ExitStack() as stack, ThreadPoolExecutor(LANES) as pool:
        futures = []
        for lane in range(LANES):
            url = stack.enter_context(scratch_database(pg_server, "kill", TEMPLATE_DATABASE))
            lane_path = tmp_path / f"lane{lane}"
            lane_path.mkdir()
            futures.append(pool.submit(run, url, lane_path, SEED + lane, kills // LANES))
        for future in futures:
            future.result()


def test_kill_9_of_load_at_seeded_moments(
    pg_server: EmbeddedServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    in_lanes(pg_server, tmp_path, KILLS, partial(run_kill_9_of_load, cli_env))


def run_kill_9_of_load(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, seed: int, kills: int
) -> None:
    cli_env = dict(cli_env, RETWEETCTL_DATABASE_URL=db_url)
    # Each file is one transaction: after a kill the table is the union of the first k files.
    units = [
        {(620 + f, r, 720 + f % 2) for r in range(f * 10_000 + 1, f * 10_000 + 20_001)}
        for f in range(4)
    ]
    files = [write_csv(tmp_path / f"f{i}.csv", rows) for i, rows in enumerate(units[:2])]
    files += [write_twarc(tmp_path / f"f{i}.jsonl", rows, 500) for i, rows in enumerate(units[2:])]
    prefixes = [set().union(*units[:k]) for k in range(len(units) + 1)]
    command = cli_command(["load", "--quiet", *map(str, files)])

    def check() -> None:
        stored = retweets(db_url)
        assert stored in prefixes  # whole files only
        assert count(db_url, "retweet_staging") == 0
        print(f"kill left {prefixes.index(stored)} of {len(units)} files")

    for _ in kill_chain(command, cli_env, tmp_path, seed, kills, check):
        clear(db_url)
    stored_before = retweets(db_url)
    final = spawn(cli_command(["load", "--json", *map(str, files)]), cli_env, tmp_path / "p",
                  cwd=tmp_path).wait()  # fmt: skip
    assert final.exit_code == 0, final.stderr
    assert retweets(db_url) == prefixes[-1]
    assert reported_added(final.stdout) == len(prefixes[-1] - stored_before)
    check_aggregate(cli_env, tmp_path)


def test_kill_9_of_fetch_at_seeded_moments(
    pg_server: EmbeddedServer, sandbox: SandboxServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    in_lanes(pg_server, tmp_path, KILLS, partial(run_kill_9_of_fetch, sandbox, cli_env))


def run_kill_9_of_fetch(
    sandbox: SandboxServer,
    cli_env: dict[str, str],
    db_url: str,
    tmp_path: Path,
    seed: int,
    kills: int,
) -> None:
    cli_env = dict(cli_env, RETWEETCTL_DATABASE_URL=db_url)
    tweets = {630 + t: (730 + t % 2, range(t * 50 + 1, t * 50 + 301)) for t in range(5)}
    served = add_tweets(sandbox, tweets)
    # Every page takes a while, so the kills land mid-tweet as well as between tweets.
    sandbox.state.fault(Fault(path=r"/retweets$", status=None, delay=0.04, times=10**6))
    env = fetch_env(cli_env, sandbox)
    command = cli_command(["fetch", "--limit", "0", "--quiet", *map(str, tweets)])

    def check() -> None:
        stored = retweets(db_url)
        for tweet_id, rows in served.items():
            mine = {row for row in stored if row[0] == tweet_id}
            assert mine in (set(), rows), (tweet_id, len(mine), len(rows))  # whole tweets only
        assert count(db_url, "retweet_staging") == 0
        whole = sum(1 for t in served if (t, min(tweets[t][1]), tweets[t][0]) in stored)
        print(f"kill left {whole} of {len(served)} tweets")

    chain = kill_chain(command, env, tmp_path, seed + 100, kills, check)
    for number, _ in enumerate(chain):
        if number % 2:  # half the chain starts from what the killed runs left
            clear(db_url)
    stored_before = retweets(db_url)
    final = spawn(cli_command(["fetch", "--limit", "0", "--json", *map(str, tweets)]), env,
                  tmp_path / "p").wait()  # fmt: skip
    assert final.exit_code == 0, final.stderr
    expected = set().union(*served.values())
    assert retweets(db_url) == expected
    assert reported_added(final.stdout) == len(expected - stored_before)
    check_aggregate(env, tmp_path)


@pytest.mark.stress
@pytest.mark.timeout(3600)
def test_stress_kill_9_of_load(
    pg_server: EmbeddedServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    in_lanes(pg_server, tmp_path, STRESS_KILLS, partial(run_kill_9_of_load, cli_env))


@pytest.mark.stress
@pytest.mark.timeout(3600)
def test_stress_kill_9_of_fetch(
    pg_server: EmbeddedServer, sandbox: SandboxServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    in_lanes(pg_server, tmp_path, STRESS_KILLS, partial(run_kill_9_of_fetch, sandbox, cli_env))


# -- X API faults in the middle of a paginated tweet --------------------------------

HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
USAGE_CAPPED = json.dumps(
    {"title": "UsageCapExceeded", "type": "https://api.twitter.com/2/problems/usage-capped",
     "detail": "Usage cap exceeded: Monthly product cap", "status": 429}).encode()  # fmt: skip
RATE_LIMITED = json.dumps({"title": "Too Many Requests", "status": 429}).encode()
RESET = str(int(time.time()) + 900)
# name -> (fault on page 2 of tweet A, times, expected exit, stored of A: pages before, message)
FAULTS: dict[str, tuple[Fault, int, int, str]] = {
    "429": (Fault("", 429, RATE_LIMITED, {"x-rate-limit-reset": RESET}), 1, 75, "rate limit"),
    "429-usage-cap": (Fault("", 429, USAGE_CAPPED), 1, 75, "usage cap"),
    "500-persistent": (Fault("", 500, b"{}"), 1000, 75, ""),
    "503-once": (Fault("", 503, b""), 1, 0, ""),
    "html-body": (Fault("", 200, HTML, content_type="text/html"), 1000, 75, ""),
    "truncated-json": (Fault("", 200, b'{"data": [{"id": "1", "userna'), 1000, 75, ""),
    "timeout": (Fault("", None, None, delay=3.0), 1000, 75, ""),
    "401": (Fault("", 401, b'{"title": "Unauthorized"}'), 1, 77, ""),
    "403": (Fault("", 403, b'{"title": "Forbidden"}'), 1, 77, ""),
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
    else:
        assert_one_line_error(first, [code])
        assert message in first.stderr.lower()
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
