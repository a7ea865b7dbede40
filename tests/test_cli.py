"""The command line as a whole: every command documented, version, one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from retweetctl import __version__
from retweetctl.cli import app, run
from retweetctl.errors import ExitCode

README = Path(__file__).resolve().parent.parent / "README.md"


def command_paths() -> list[tuple[str, str | None]]:
    """Every leaf command as ("db status", help text)."""
    found: list[tuple[str, str | None]] = []

    def walk(command, prefix: str) -> None:  # type: ignore[no-untyped-def]
        if hasattr(command, "list_commands"):  # a group: the root loads its commands lazily
            for name in command.list_commands(None):
                walk(command.get_command(None, name), f"{prefix} {name}".strip())
        else:
            found.append((prefix, command.help))

    walk(typer.main.get_command(app), "")
    return found


def test_there_are_commands() -> None:
    names = {path for path, _ in command_paths()}
    assert {"db status", "db start", "db stop", "db url", "fetch", "load", "matrix"} <= names


@pytest.mark.parametrize(("path", "help_text"), command_paths())
def test_every_command_has_help_and_is_in_readme(path: str, help_text: str | None) -> None:
    assert help_text and help_text.strip(), f"{path} has no help text"
    assert f"retweetctl {path}" in README.read_text(), (
        f"README does not document `retweetctl {path}`"
    )


@pytest.mark.parametrize(("path", "help_text"), command_paths())
def test_every_paragraph_of_a_help_text_is_one_line(path: str, help_text: str | None) -> None:
    """Else rich wraps each source line again at 80 columns: lines of one word."""
    for paragraph in (help_text or "").split("\n\n"):
        assert paragraph.startswith("\b") or "\n" not in paragraph, (path, paragraph)


@pytest.mark.parametrize("path", [p for p, _ in command_paths()])
def test_help_of_every_command_exits_0(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([*path.split(), "--help"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "Usage:" in out
    # a flag takes no value, so it shows no type; nor does a list of files show Python's
    assert "<bool>" not in out and "<list[" not in out, out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"retweetctl {__version__}"


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["frobnicate"]) == ExitCode.USAGE


def test_exit_codes_are_documented_in_readme() -> None:
    text = README.read_text()
    for code in ExitCode:
        assert re.search(rf"^\|\s*{int(code)}\s*\|", text, re.M), (
            f"exit code {int(code)} missing from README table"
        )


def test_bad_config_is_exit_78_in_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "cfg"
    home.mkdir()
    (home / "config.toml").write_text("database_url = [")
    result = cli(["db", "status"], RETWEETCTL_HOME=str(home))
    assert result.exit_code == ExitCode.CONFIG
    assert (
        result.stderr.startswith("retweetctl: error: config file")
        and result.stderr.count("\n") == 1
    )


def test_unreachable_database_is_exit_69_without_password(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(
        ["db", "status"], RETWEETCTL_DATABASE_URL="postgresql://bob:Sup3rSecretPw@127.0.0.1:1/none"
    )
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "Sup3rSecretPw" not in result.stdout + result.stderr
    assert "bob:***@127.0.0.1:1" in result.stderr


def test_db_url_leaves_the_password_out(cli, db_url: str) -> None:  # type: ignore[no-untyped-def]
    with_password = db_url.replace("postgres@", "postgres:An0therSecret@")
    result = cli(["db", "url"], RETWEETCTL_DATABASE_URL=with_password)
    assert result.exit_code == 0
    # The same URL, plus the search_path that makes `retweets` resolve unqualified.
    assert result.stdout.strip() == db_url + "&options=-c%20search_path%3Dretweetctl%2Cpublic"
    assert "An0therSecret" not in result.stdout + result.stderr


def test_a_deadlock_is_a_temporary_failure_not_an_outage(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import psycopg

    from retweetctl.commands import db

    def deadlock(settings: object) -> None:
        error = psycopg.errors.DeadlockDetected("deadlock detected")
        assert error.sqlstate == "40P01"
        raise error

    monkeypatch.setenv("RETWEETCTL_HOME", str(tmp_path))
    monkeypatch.delenv("RETWEETCTL_DATABASE_URL", raising=False)
    monkeypatch.setattr(db, "embedded_server", deadlock)
    assert run(["db", "status"]) == ExitCode.TEMPORARY
    err = capsys.readouterr().err
    assert err.startswith("retweetctl: error: database conflict") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("path", "values"),
    [
        ("fetch", {"--limit": "N"}),
        (
            "matrix",
            {
                "--format": "FORMAT",
                "--top-authors": "N",
                "--top-retweeters": "N",
                "--author": "ID|@NAME",
                "--retweeter": "ID|@NAME",
                "--min-count": "N",
                "--output": "FILE",
                "--since": "WHEN",
            },
        ),
    ],
)
def test_options_name_their_value_not_its_python_type(
    path: str,
    values: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Typer 0.29 shows each parameter's type (`<int range>`, `<list[str]>`) unless it has a
    metavar: an option that takes a value says what the value is."""
    monkeypatch.setenv("COLUMNS", "200")  # one line per option
    assert run([path, "--help"]) == ExitCode.OK
    lines = capsys.readouterr().out.splitlines()
    for option, value in values.items():
        (line,) = [line for line in lines if re.search(rf"│ {option} ", line)]
        assert re.search(rf"\s{re.escape(value)}(\s|$)", line), line
    tags = re.compile(r"<(int range|list\[str\]|file|path|str|int)>")
    assert not [line for line in lines if "--" in line and tags.search(line)], lines
