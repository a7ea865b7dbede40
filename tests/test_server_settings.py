"""The embedded server's bulk settings: sized from memory, overridable, applied to a running cluster."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from retweetctl.embedded import EmbeddedServer
from retweetctl.errors import ConfigError, ExitCode
from retweetctl.server_settings import GB, MB, bulk_settings, parse_settings, server_settings
from tests.conftest import run_cli, user_env


@pytest.fixture
def home() -> Iterator[Path]:
    """Outside pytest's basetemp (see test_embedded.home): a private cluster lives here."""
    base = Path(tempfile.mkdtemp(prefix="rtc-settings-"))
    yield base / "home"
    shutil.rmtree(base, ignore_errors=True)


def show(url: str, *names: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [str(conn.execute(f"SHOW {name}").fetchone()[0]) for name in names]  # type: ignore[index]


def test_sizes_follow_memory_within_bounds() -> None:
    laptop = bulk_settings(24 * GB)
    assert (laptop["shared_buffers"], laptop["work_mem"]) == ("3072MB", "96MB")
    assert laptop["maintenance_work_mem"] == "768MB" and laptop["max_wal_size"] == "8GB"
    tiny = bulk_settings(512 * MB)  # never below PostgreSQL's own defaults
    assert (tiny["shared_buffers"], tiny["work_mem"], tiny["maintenance_work_mem"]) == (
        "128MB",
        "4MB",
        "64MB",
    )
    huge = bulk_settings(1024 * GB)
    assert (huge["shared_buffers"], huge["work_mem"]) == ("8192MB", "256MB")


def test_the_user_overrides_any_setting() -> None:
    chosen = server_settings("shared_buffers=1GB, work_mem=64MB jit=off", memory=24 * GB)
    assert (chosen["shared_buffers"], chosen["work_mem"], chosen["jit"]) == ("1GB", "64MB", "off")
    assert chosen["maintenance_work_mem"] == "768MB"


@pytest.mark.parametrize("text", ["work_mem", "work_mem='1GB'", "x=1\nlisten_addresses=*"])
def test_a_malformed_override_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigError, match="is not name=value"):
        parse_settings(text)


@pytest.mark.parametrize("name", ["listen_addresses", "port", "include_if_exists"])
def test_settings_that_would_open_the_server_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} is kept by retweetctl"):
        parse_settings(f"work_mem=8MB {name}=5433")


def test_bad_settings_in_the_environment_exit_78(tmp_path: Path) -> None:
    env = user_env(RETWEETCTL_HOME=str(tmp_path), RETWEETCTL_PG_SETTINGS="shared_buffers")
    result = run_cli(["db", "status"], env)
    assert result.exit_code == ExitCode.CONFIG
    assert result.stderr == (
        "retweetctl: error: pg_settings (RETWEETCTL_PG_SETTINGS): 'shared_buffers' is not "
        "name=value (e.g. shared_buffers=1GB work_mem=64MB)\n"
    )


def test_settings_apply_at_start_and_reach_a_running_server(home: Path) -> None:
    server = EmbeddedServer(home, settings={"work_mem": "77MB", "max_wal_size": "3GB"})
    try:
        url = server.ensure_running()
        assert show(url, "work_mem", "max_wal_size") == ["77MB", "3GB"]
        pid = server.status().pid
        # the next command brings other settings: reloaded into the running server
        changed = EmbeddedServer(home, settings={"work_mem": "55MB", "max_wal_size": "3GB"})
        assert changed.ensure_running() == url
        assert show(url, "work_mem") == ["55MB"]
        assert changed.status().pid == pid  # not restarted
    finally:
        server.stop()


def test_the_cli_starts_the_embedded_server_with_the_bulk_settings(home: Path) -> None:
    env = user_env(RETWEETCTL_HOME=str(home), RETWEETCTL_PG_SETTINGS="work_mem=33MB")
    try:
        result = run_cli(["db", "url"], env)
        assert result.exit_code == ExitCode.OK, result.stderr
        expected = server_settings("work_mem=33MB")
        assert show(result.stdout.strip(), "work_mem", "shared_buffers") == [
            "33MB",
            _pg_size(expected["shared_buffers"]),
        ]
    finally:
        EmbeddedServer(home).stop()


def _pg_size(setting: str) -> str:
    """How SHOW prints a size set in MB (whole GB are shown as GB)."""
    megabytes = int(setting.removesuffix("MB"))
    return f"{megabytes // 1024}GB" if megabytes % 1024 == 0 else setting
