"""Settings precedence, config file errors and secrets that never show."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retweetctl.config import (
    DEFAULT_API_BASE_URL,
    Secret,
    load_settings,
    redact_dsn,
    remove_password,
)
from retweetctl.errors import ConfigError, ExitCode


def write_config(home: Path, text: str, mode: int = 0o600) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_defaults_without_file_or_environment(tmp_path: Path) -> None:
    settings = load_settings({"RETWEETCTL_HOME": str(tmp_path)})
    assert settings.home == tmp_path
    assert settings.database_url is None and settings.uses_embedded_database
    assert settings.bearer_token is None
    assert settings.api_base_url == DEFAULT_API_BASE_URL
    assert settings.http_timeout == 30.0


def test_environment_beats_file_beats_default(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        'database_url = "postgresql://file@/db"\nhttp_timeout = 5\napi_base_url = "http://127.0.0.1:9/"\n',
    )
    from_file = load_settings({"RETWEETCTL_HOME": str(tmp_path)})
    assert (
        from_file.database_url is not None
        and from_file.database_url.reveal() == "postgresql://file@/db"
    )
    assert from_file.http_timeout == 5.0
    assert from_file.api_base_url == "http://127.0.0.1:9"
    from_env = load_settings(
        {
            "RETWEETCTL_HOME": str(tmp_path),
            "RETWEETCTL_DATABASE_URL": "postgresql://env@/db",
            "RETWEETCTL_HTTP_TIMEOUT": "2.5",
        }
    )
    assert (
        from_env.database_url is not None
        and from_env.database_url.reveal() == "postgresql://env@/db"
    )
    assert from_env.http_timeout == 2.5


def test_x_bearer_token_beats_twitter_bearer_token(tmp_path: Path) -> None:
    env = {
        "RETWEETCTL_HOME": str(tmp_path),
        "X_BEARER_TOKEN": "x-token",
        "TWITTER_BEARER_TOKEN": "tw-token",
    }
    token = load_settings(env).bearer_token
    assert token is not None and token.reveal() == "x-token"
    del env["X_BEARER_TOKEN"]
    token = load_settings(env).bearer_token
    assert token is not None and token.reveal() == "tw-token"


def test_empty_token_counts_as_missing(tmp_path: Path) -> None:
    assert (
        load_settings({"RETWEETCTL_HOME": str(tmp_path), "X_BEARER_TOKEN": "  "}).bearer_token
        is None
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("database_url = ", "not valid TOML"),
        ('http_timeout = "soon"\n', "http_timeout must be a number"),
        ("bearer_token = 12\n", "bearer_token must be a string"),
        ('colour = "blue"\n', "unknown setting 'colour'"),
        ("http_timeout = -1\n", "positive number"),
    ],
)
def test_bad_config_file_is_a_config_error(tmp_path: Path, text: str, fragment: str) -> None:
    write_config(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings({"RETWEETCTL_HOME": str(tmp_path)})
    assert fragment in caught.value.message
    assert caught.value.exit_code == ExitCode.CONFIG
    assert "\n" not in caught.value.message


def test_world_readable_file_with_token_warns_with_fix(tmp_path: Path) -> None:
    path = write_config(tmp_path, 'bearer_token = "sekrit-token"\n', mode=0o644)
    settings = load_settings({"RETWEETCTL_HOME": str(tmp_path)})
    assert settings.warnings == (
        f"warning: {path} holds a secret and is readable by others; fix it with: chmod 600 {path}",
    )
    os.chmod(path, 0o600)
    assert load_settings({"RETWEETCTL_HOME": str(tmp_path)}).warnings == ()


def test_secret_never_shows_itself() -> None:
    secret = Secret("hunter2-very-secret")
    assert (
        "hunter2" not in repr(secret)
        and "hunter2" not in str(secret)
        and "hunter2" not in f"{secret}"
    )
    assert Secret.scrub("token=hunter2-very-secret!") == "token=***!"


@pytest.mark.parametrize(
    ("dsn", "redacted", "removed"),
    [
        (
            "postgresql://bob:pa55w0rd@db.example:5432/rt",
            "postgresql://bob:***@db.example:5432/rt",
            "postgresql://bob@db.example:5432/rt",
        ),
        (
            "postgres://bob:pa55w0rd@db/rt?sslmode=require&password=pa55w0rd",
            "postgres://bob:***@db/rt?sslmode=require&password=***",
            "postgres://bob@db/rt?sslmode=require",
        ),
        (
            "host=db user=bob password=pa55w0rd dbname=rt",
            "host=db user=bob password=*** dbname=rt",
            "host=db user=bob dbname=rt",
        ),
        (
            "host=db password='pa 55w0rd' dbname=rt",
            "host=db password=*** dbname=rt",
            "host=db dbname=rt",
        ),
        (
            "postgresql://postgres@/retweetctl?host=/tmp/x",
            "postgresql://postgres@/retweetctl?host=/tmp/x",
            "postgresql://postgres@/retweetctl?host=/tmp/x",
        ),
    ],
)
def test_dsn_redaction(dsn: str, redacted: str, removed: str) -> None:
    assert redact_dsn(dsn) == redacted
    assert remove_password(dsn) == removed
    assert "pa55w0rd" not in redact_dsn(dsn) and "pa55w0rd" not in remove_password(dsn)
