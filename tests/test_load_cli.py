"""`retweetctl load` as users run it: exit codes, the rejects file, the summary and --json."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from retweetctl.errors import ExitCode
from tests.conftest import CliResult

TESTS = Path(__file__).resolve().parent
TWARC = TESTS / "data" / "twarc"
BAD = TESTS / "data" / "load"


def stored_rows(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM retweets").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def run(cli_env: dict[str, str], tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run `retweetctl load ARGS` in a subprocess whose current directory is tmp_path."""

    def invoke(*args: str, input: bytes | None = None) -> CliResult:
        done = subprocess.run(
            [sys.executable, "-m", "retweetctl", "load", *args],
            env=cli_env,
            cwd=tmp_path,
            input=input,
            capture_output=True,
            timeout=120,
            check=False,
        )
        return CliResult(done.returncode, done.stdout.decode(), done.stderr.decode())

    return invoke


def test_summary_and_default_rejects_file(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run(str(BAD / "bad_lines.jsonl"), str(TWARC / "brexit.jsonl"))
    assert result.exit_code == ExitCode.OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{BAD / 'bad_lines.jsonl'}: 3 of 3 records added; 1 user named"
    assert lines[1] == "  skipped 1: original tweet not in includes (1)"
    assert lines[2].startswith(
        "  rejected 13: id out of range (2), invalid JSON (2), invalid UTF-8 (1)"
    )
    assert lines[2].endswith(f"-> {tmp_path / 'bad_lines.jsonl.rejects.jsonl'}")
    assert lines[-1].startswith("total: ")
    records = (tmp_path / "bad_lines.jsonl.rejects.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(r)["line"] for r in records] == [2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16]
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_json_output_counts(run) -> None:  # type: ignore[no-untyped-def]
    result = run("--json", str(TWARC / "kpop.jsonl"), str(TWARC / "kpop.jsonl"))
    assert result.exit_code == ExitCode.OK, result.stderr
    payload = json.loads(result.stdout)
    first, second = payload["files"]
    assert (first["seen"], second["seen"]) == (78, 78)
    assert first["added"] > 0 and second["added"] == 0
    assert payload["total"]["added"] == first["added"]
    assert payload["total"]["seen"] == 156
    assert payload["error"] is None


def test_rows_attributed_from_the_retweet_text_are_counted_apart(run) -> None:  # type: ignore[no-untyped-def]
    result = run(str(TWARC / "withheld.jsonl"))
    assert result.exit_code == ExitCode.OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == "  attributed from the retweet text: 29"
    assert lines[2] == "  skipped 9: original tweet not in includes (9)"
    payload = json.loads(run("--json", str(TWARC / "withheld.jsonl")).stdout)
    assert payload["files"][0]["attributed_from_retweet_text"] == 29
    assert payload["total"]["attributed_from_retweet_text"] == 29
    assert payload["files"][0]["added"] == 0  # the first run stored them
    brexit = json.loads(run("--json", str(TWARC / "brexit.jsonl")).stdout)
    assert brexit["files"][0]["attributed_from_retweet_text"] == 0
    assert "attributed" not in run(str(TWARC / "brexit.jsonl")).stdout


def test_strict_exits_65_with_nothing_loaded(run, db_url: str) -> None:  # type: ignore[no-untyped-def]
    result = run("--strict", "--json", str(TWARC / "brexit.jsonl"), str(BAD / "bad_rows.csv"))
    assert result.exit_code == ExitCode.DATA_ERROR
    assert "retweetctl: error: " in result.stderr and "bad_rows.csv line 3" in result.stderr
    assert json.loads(result.stdout)["total"]["added"] == 0
    # brexit.jsonl came first and was good: with --strict it is rolled back too.
    assert stored_rows(db_url) == 0


def test_missing_file_exits_66_and_loads_nothing(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run(str(TWARC / "brexit.jsonl"), str(tmp_path / "missing.jsonl"))
    assert result.exit_code == ExitCode.NO_INPUT
    assert result.stderr.splitlines()[-1].startswith("retweetctl: error: cannot read ")
    assert "missing.jsonl" in result.stderr
    assert result.stdout.strip().endswith("from 0 committed file(s); nothing was loaded")
    again = run("--json", str(TWARC / "brexit.jsonl"))
    assert json.loads(again.stdout)["files"][0]["added"] > 0  # so nothing was stored before


def test_binary_file_is_refused_before_anything_is_loaded(run) -> None:  # type: ignore[no-untyped-def]
    result = run(str(TWARC / "two_tweets.jsonl"), str(BAD / "binary.dat"))
    assert result.exit_code == ExitCode.DATA_ERROR
    assert result.stderr.splitlines()[-1] == (
        f"retweetctl: error: {BAD / 'binary.dat'} looks binary (control bytes near its start), "
        "not JSONL or CSV"
    )
    assert "from 0 committed file(s); nothing was loaded" in result.stdout


def test_compressed_file_loads_like_the_plain_one(run) -> None:  # type: ignore[no-untyped-def]
    compressed = run("--json", str(BAD / "compressed.jsonl.gz"))
    assert compressed.exit_code == ExitCode.OK, compressed.stderr
    assert json.loads(compressed.stdout)["files"][0]["added"] == 1
    again = run("--json", "-", input=gzip.decompress((BAD / "compressed.jsonl.gz").read_bytes()))
    assert (json.loads(again.stdout)["files"][0]["seen"], again.exit_code) == (1, 0)
    assert json.loads(again.stdout)["files"][0]["added"] == 0  # the same row: stored by the first


def test_a_file_whose_every_line_is_rejected_exits_65(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "all_bad.jsonl"
    bad.write_bytes(b'{"data": [\n[1, 2]\n\n{"hello": "world"}\n')
    result = run(str(TWARC / "two_tweets.jsonl"), str(bad))
    assert result.exit_code == ExitCode.DATA_ERROR
    assert result.stderr.splitlines()[-1] == (
        f"retweetctl: error: {bad}: all 3 records were rejected "
        f"(see {tmp_path / 'all_bad.jsonl.rejects.jsonl'})"
    )
    assert f"from 1 committed file(s): {TWARC / 'two_tweets.jsonl'}" in result.stdout
    assert len((tmp_path / "all_bad.jsonl.rejects.jsonl").read_text().splitlines()) == 3


def test_stdin_and_quiet(run) -> None:  # type: ignore[no-untyped-def]
    data = b"tweet_id,retweeter_id,author_id\n1,2,3\n1,x,3\n"
    result = run("--quiet", "--format", "csv", "-", input=data)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")
    result = run("-", input=data)
    assert result.stdout.startswith("-: 0 of 1 records added")  # (1, 2) is already stored


def test_bad_options_are_usage_errors(run) -> None:  # type: ignore[no-untyped-def]
    assert run("--format", "xml", "x").exit_code == ExitCode.USAGE
    assert run("--author", "1.5e3", "x").exit_code == ExitCode.USAGE
    assert run().exit_code == ExitCode.USAGE


def peak_rss_kib(args: list[str], env: dict[str, str], cwd: Path) -> int:
    """Peak RSS of `retweetctl ARGS`, measured in a wrapper so no other child counts."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run([sys.executable, '-m', 'retweetctl', *sys.argv[1:]])\n"
        "assert done.returncode == 0, done.returncode\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return int(out.stdout.split()[-1])


def test_memory_stays_flat_as_the_input_grows(cli_env: dict[str, str], tmp_path: Path) -> None:
    peaks = []
    for rows in (10_000, 200_000):
        path = tmp_path / f"{rows}.csv"
        with path.open("w") as out:
            out.write("tweet_id,retweeter_id,author_id\n")
            out.writelines(f"{1 + n // 100},{n},{7}\n" for n in range(1, rows + 1))
        peaks.append(peak_rss_kib(["load", "--quiet", str(path)], cli_env, tmp_path))
    small, large = peaks
    assert large < small + 8 * 1024, f"peak RSS {small} KiB at 10k rows, {large} KiB at 200k"
