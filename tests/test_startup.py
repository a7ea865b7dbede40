"""Fast start: `--help` and `--version` import neither psycopg nor tweepy nor requests.

(How fast is measured by `make bench`: bench/bench_startup.py.)"""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from retweetctl.cli import COMMANDS, app
from tests.conftest import user_env

HEAVY = ("psycopg", "tweepy", "requests", "rich.markdown", "retweetctl.matrix", "retweetctl.load")


def imported(args: list[str]) -> set[str]:
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "retweetctl", *args],
        env=user_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    return {
        line.rsplit("|", 1)[1].strip()
        for line in completed.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_import_nothing_heavy(args: list[str]) -> None:
    modules = imported(args)
    assert "typer" in modules  # the measurement works
    assert not {m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY}


def test_a_command_imports_what_it_needs() -> None:
    assert {"psycopg", "retweetctl.matrix"} <= imported(["matrix", "--help"])


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_listed_line_is_the_commands_own_help(name: str) -> None:
    group = typer.main.get_command(app)
    command = group.get_command(None, name)  # type: ignore[arg-type]
    assert command is not None and command.help is not None
    assert COMMANDS[name][2] == " ".join(command.help.split("\n\n")[0].split())
