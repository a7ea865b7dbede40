"""The hostile-input corpus (tests/data/bad/cases.toml) through the real CLI, case by case."""

from __future__ import annotations

import os
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.reliability.harness import cli_command, count, leaks, spawn

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"
# Big enough to break a reader that holds a line in a fixed buffer or a field under csv's
# default limit (128 KiB), small enough for CI.
HUGE_LINE_BYTES = 8 * 1024 * 1024
DEEP_NESTING = 100_000


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


def cases() -> list[Case]:
    manifest = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))
    return [Case(**raw) for raw in manifest["case"]]


# One X API v2 search page holding one retweet: (1000, 2001, 3000).
GOOD_PAGE = (
    b'{"data": [{"id": "9000", "author_id": "2001", "text": "RT", "referenced_tweets": '
    b'[{"type": "retweeted", "id": "1000"}]}], "includes": {"tweets": [{"id": "1000", '
    b'"author_id": "3000", "text": "x"}], "users": []}, "meta": {"result_count": 1}}\n'
)


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


def materialize(case: Case, cwd: Path) -> Path | None:
    if case.input is None:
        return None
    if case.input.startswith("generated:"):
        kind = case.input.removeprefix("generated:")
        path = cwd / f"{kind}.{'csv' if 'csv' in kind else 'jsonl'}"
        path.write_bytes(generate(kind))
        return path
    path = cwd / Path(case.input).name
    shutil.copyfile(CORPUS / case.input, path)
    return path


def run_case(case: Case, cli_env: dict[str, str], tmp_path: Path) -> CliResult:
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    env = dict(cli_env, RETWEETCTL_HOME=str(home))
    if case.config is not None:
        config = home / "config.toml"
        shutil.copyfile(CORPUS / case.config, config)
        os.chmod(config, case.config_mode)
    for name in case.unset:
        env.pop(name, None)
    env.update(case.env)
    path = materialize(case, cwd)
    args = [arg.replace("{input}", str(path)) for arg in case.command]
    stdin = (CORPUS / case.stdin).read_bytes() if case.stdin else None
    return spawn(cli_command(args), env, tmp_path / "p", cwd=cwd, stdin=stdin).wait()


@pytest.mark.parametrize("case", cases(), ids=lambda case: case.name)
def test_bad_input(case: Case, cli_env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    result = run_case(case, cli_env, tmp_path)
    everything = result.stdout + result.stderr
    assert result.exit_code == case.exit, everything
    assert "Traceback" not in everything
    if case.message is not None:
        assert case.message in everything, everything
    if case.absent is not None:
        assert case.absent not in everything, everything
    lines = result.stderr.splitlines()
    expected_lines = case.stderr_lines if case.stderr_lines is not None else int(case.exit != 0)
    assert len(lines) == expected_lines, result.stderr
    if case.exit != 0:
        errors = [line for line in lines if line.startswith("retweetctl: error: ")]
        assert len(errors) == 1, result.stderr
    assert count(db_url, "retweets") == case.rows, everything
    assert count(db_url, "retweet_staging") == 0
    if case.rejects is not None:
        rejected = [p for p in (tmp_path / "cwd").glob("*.rejects.jsonl")]
        assert sum(len(p.read_text().splitlines()) for p in rejected) == case.rejects
    # The corpus's config files hold the test token: it must show nowhere but there.
    texts = {"stdout": result.stdout, "stderr": result.stderr}
    assert leaks(texts, [tmp_path / "cwd"]) == []


def test_every_corpus_file_is_used() -> None:
    """A file in the corpus that no case names is a case someone forgot to write."""
    named = {c.input for c in cases()} | {c.config for c in cases()} | {c.stdin for c in cases()}
    files = {
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and p.suffix not in (".md", ".toml") or p.parent.name == "config"
    }
    assert files - named == set()
