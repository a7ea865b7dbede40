"""The hostile-input corpus (tests/data/bad/) through the real CLI.

Cases run as parallel processes (a few at a time: CI has 2 cores); a case that can
write gets a database of its own, so its row count is exact. Every case is checked
for its exit code and message, no traceback, exactly one `retweetctl: error:` line
on failure, no secret in its output, and the rows it left in `retweets`.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from retweetctl.cli import run
from retweetctl.embedded import EmbeddedServer
from retweetctl.errors import ExitCode
from tests.conftest import TEMPLATE_DATABASE, CliResult, scratch_database
from tests.reliability.harness import Proc, cli_command, count, leaks, spawn

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"
# Big enough to break a reader that holds a line in a fixed buffer or a field under csv's
# default limit (128 KiB), small enough for CI.
HUGE_LINE_BYTES = 8 * 1024 * 1024
DEEP_NESTING = 100_000
# stderr_lines for typer's own usage errors (an unknown option, a bad choice): a boxed,
# several-line message from the argument parser, still exit 2 and naming the option.
TYPER_USAGE_ERROR = -1
# Processes at once: 2 cores, and each case is mostly process start-up.
WIDTH = 4
OFFLINE_API = "http://127.0.0.1:9"  # a closed port: fails fast, never the network
BAD_IDS: list[str] = json.loads((CORPUS / "ids" / "bad_ids.json").read_text(encoding="utf-8"))
# Leading or trailing blanks around digits are trimmed (as on stdin lines): valid IDs.
TRIMMED_IDS = {" 5", "5 "}
# One X API v2 search page holding one retweet: (1000, 2001, 3000).
GOOD_PAGE = (
    b'{"data": [{"id": "9000", "author_id": "2001", "text": "RT", "referenced_tweets": '
    b'[{"type": "retweeted", "id": "1000"}]}], "includes": {"tweets": [{"id": "1000", '
    b'"author_id": "3000", "text": "x"}], "users": []}, "meta": {"result_count": 1}}\n'
)


@dataclass(frozen=True)
class Case:
    name: str
    command: list[str]
    exit: int
    input: str | None = None
    stdin: str | None = None
    config: str | None = None
    config_mode: int = 0o600
    env: dict[str, str] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    message: str | None = None
    absent: str | None = None
    rows: int = 0
    rejects: int | None = None
    stderr_lines: int | None = None

    @property
    def writes(self) -> bool:
        return self.command[0] == "load" or self.rows > 0


def cases() -> list[Case]:
    manifest = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))
    return [Case(**raw) for raw in manifest["case"]]


def generate(kind: str) -> bytes:
    """Inputs too big to commit, made at test time; each holds one good row (GOOD_PAGE)."""
    if kind == "huge-jsonl-line":
        return GOOD_PAGE + b'{"data": [], "pad": "' + b"x" * HUGE_LINE_BYTES + b'"}\n'
    if kind == "huge-garbage-line":
        return GOOD_PAGE + b"{" * HUGE_LINE_BYTES + b"\n"
    if kind == "deep-nesting":
        return GOOD_PAGE + b"[" * DEEP_NESTING + b"]" * DEEP_NESTING + b"\n"
    if kind == "deep-object-nesting":
        return GOOD_PAGE + b'{"a":' * DEEP_NESTING + b"1" + b"}" * DEEP_NESTING + b"\n"
    if kind == "huge-csv-field":
        header = b"tweet_id,retweeter_id,author_id,note\n"
        return header + b'1000,2001,3000,"' + b"y" * HUGE_LINE_BYTES + b'"\n1000,2002,3000,ok\n'
    raise AssertionError(f"unknown generated input {kind}")


def start(case: Case, env: dict[str, str], root: Path) -> Proc:
    home, cwd = root / "home", root / "cwd"
    home.mkdir(parents=True)
    cwd.mkdir()
    env = dict(env, RETWEETCTL_HOME=str(home))
    if case.config is not None:
        config = home / "config.toml"
        shutil.copyfile(CORPUS / case.config, config)
        os.chmod(config, case.config_mode)
    for name in case.unset:
        env.pop(name, None)
    env.update(case.env)
    path = None
    if case.input is not None and case.input.startswith("generated:"):
        kind = case.input.removeprefix("generated:")
        path = cwd / f"{kind}.{'csv' if 'csv' in kind else 'jsonl'}"
        path.write_bytes(generate(kind))
    elif case.input is not None:
        path = cwd / Path(case.input).name
        shutil.copyfile(CORPUS / case.input, path)
    args = [arg.replace("{input}", str(path)) for arg in case.command]
    stdin = (CORPUS / case.stdin).read_bytes() if case.stdin else None
    return spawn(cli_command(args), env, root / "p", cwd=cwd, stdin=stdin)


def problems(case: Case, result: CliResult, url: str, root: Path) -> list[str]:
    """What is wrong with how retweetctl answered this case (empty: nothing)."""
    found: list[str] = []
    everything = result.stdout + result.stderr
    if result.exit_code != case.exit:
        found.append(f"exit {result.exit_code}, expected {case.exit}")
    if "Traceback" in everything:
        found.append("a traceback")
    if case.message is not None and case.message not in everything:
        found.append(f"no {case.message!r}")
    if case.absent is not None and case.absent in everything:
        found.append(f"{case.absent!r} shown")
    lines = result.stderr.splitlines()
    expected_lines = case.stderr_lines if case.stderr_lines is not None else int(case.exit != 0)
    if expected_lines != TYPER_USAGE_ERROR:
        if len(lines) != expected_lines:
            found.append(f"{len(lines)} stderr lines, expected {expected_lines}")
        errors = [line for line in lines if line.startswith("retweetctl: error: ")]
        if len(errors) != int(case.exit != 0):
            found.append(f"{len(errors)} error lines")
    if case.writes:
        if (rows := count(url, "retweets")) != case.rows:
            found.append(f"{rows} rows stored, expected {case.rows}")
        if count(url, "retweet_staging"):
            found.append("staging rows left")
    if case.rejects is not None:
        rejected = sum(
            len(p.read_text().splitlines()) for p in (root / "cwd").glob("*.rejects.jsonl")
        )
        if rejected != case.rejects:
            found.append(f"{rejected} rejects, expected {case.rejects}")
    if leaked := leaks({"output": everything}, [root / "cwd"]):
        found.append(f"secret leaked: {leaked}")
    return [f"{case.name}: {problem}\n    {everything.strip()[:300]}" for problem in found]


def run_cases(
    selected: list[Case], env: dict[str, str], urls: list[str], tmp_path: Path
) -> list[str]:
    found: list[str] = []
    for begin in range(0, len(selected), WIDTH):
        batch = list(enumerate(selected[begin : begin + WIDTH], start=begin))
        procs = [
            start(case, dict(env, RETWEETCTL_DATABASE_URL=urls[i]), tmp_path / case.name)
            for i, case in batch
        ]
        for (i, case), proc in zip(batch, procs, strict=True):
            found += problems(case, proc.wait(), urls[i], tmp_path / case.name)
    return found


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    # Never the network, should a case ever get as far as calling the X API.
    return dict(cli_env, RETWEETCTL_API_BASE_URL=OFFLINE_API)


def test_cases_that_write_each_on_a_database_of_their_own(
    pg_server: EmbeddedServer, env: dict[str, str], tmp_path: Path
) -> None:
    selected = [case for case in cases() if case.writes]
    with ExitStack() as stack:
        urls = [
            stack.enter_context(scratch_database(pg_server, "bad", TEMPLATE_DATABASE))
            for _ in selected
        ]
        found = run_cases(selected, env, urls, tmp_path)
    assert found == [], "\n".join(found)


def test_cases_that_must_not_write(env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    selected = [case for case in cases() if not case.writes]
    found = run_cases(selected, env, [db_url] * len(selected), tmp_path)
    assert found == [], "\n".join(found)
    assert count(db_url, "retweets") == count(db_url, "watched_tweets") == 0


def test_every_corpus_file_is_used() -> None:
    """A file in the corpus that no case names is a case someone forgot to write."""
    named = {c.input for c in cases()} | {c.config for c in cases()} | {c.stdin for c in cases()}
    named.add("ids/bad_ids.json")  # the tweet ID tests below
    files = {
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix not in (".md", ".toml") or p.parent.name == "config"
    }
    assert files - named == set()


# Through a process (the real entry point, stdin included): a sample that holds the
# cases that once crashed or need care ("-5" parses as an option without "--").
CLI_SAMPLE = ["abc", "-5", "0", "9223372036854775808", "1" * 5000, "\u0661\u0662\u0663", ""]


def id_commands() -> list[tuple[list[str], bytes | None]]:
    found: list[tuple[list[str], bytes | None]] = []
    for command in (["fetch"], ["watch", "add"]):
        for value in CLI_SAMPLE:
            guard = ["--"] if value.startswith("-") else []
            found.append(([*command, *guard, value], None))
        found.append(([*command, "-"], b"1\nabc\n"))
    return found


def test_bad_tweet_ids_through_the_cli(env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    """Exit 2 naming the ID, before any X API call or write (no token is even set)."""
    commands = id_commands()
    found: list[str] = []
    for begin in range(0, len(commands), WIDTH):
        batch = commands[begin : begin + WIDTH]
        procs = [spawn(cli_command(a), env, tmp_path / "p", stdin=s) for a, s in batch]
        for (args, stdin), proc in zip(batch, procs, strict=True):
            result = proc.wait()
            lines = result.stderr.splitlines()
            named = "stdin line 2" if stdin else "invalid TWEET_ID"
            if result.exit_code != ExitCode.USAGE or len(lines) != 1 or named not in lines[0]:
                found.append(f"{args[:3]} {stdin!r}: {result.exit_code} {result.stderr[:200]}")
    assert found == [], "\n".join(found)
    assert count(db_url, "watched_tweets") == count(db_url, "retweets") == 0


@pytest.mark.parametrize("command", [["fetch"], ["watch", "add"]], ids=" ".join)
def test_every_bad_tweet_id_in_process(
    command: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole list through the CLI's own error mapping, in this process (fast)."""
    monkeypatch.setenv("RETWEETCTL_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    for value in BAD_IDS:
        if value in TRIMMED_IDS:
            continue
        assert run([*command, "--", value]) == ExitCode.USAGE, value
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "invalid TWEET_ID" in err and "Traceback" not in err


def test_blanks_around_an_id_are_trimmed(env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    for value in sorted(TRIMMED_IDS):
        result = spawn(cli_command(["watch", "add", value]), env, tmp_path / "p").wait()
        assert result.exit_code == 0, result.stderr
    assert count(db_url, "watched_tweets") == 1
