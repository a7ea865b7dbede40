"""Tools to do to retweetctl what cron, the network and users do: overlap, kill -9, secrets.

To strike at a step of a transaction, see steps.py (and README.md here).

Processes write stdout/stderr to files, not pipes: a test that kills or waits on many
processes at once never deadlocks on a full pipe, and can watch a process's output
while it runs (to strike at a chosen moment).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

from tests.conftest import CliResult

WORKER = Path(__file__).with_name("merge_worker.py")
# Distinctive secrets: any occurrence in output or files is a leak, never a coincidence.
TOKEN = "XTOKEN-7f3a9c-DISTINCT"
PASSWORD = "PGPASS-5e1d-DISTINCT"
SECRETS = (TOKEN, PASSWORD)
# A process that outlives this is hung, which is itself a failure.
PROCESS_TIMEOUT_SECONDS = 120.0
POLL_SECONDS = 0.02


def cli_command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "retweetctl", *args]


def worker_command(args: Sequence[str]) -> list[str]:
    return [sys.executable, str(WORKER), *args]


@dataclass
class Proc:
    """A running process whose output goes to files in `scratch`."""

    popen: subprocess.Popen[bytes]
    out_path: Path
    err_path: Path

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait(self, timeout: float = PROCESS_TIMEOUT_SECONDS) -> CliResult:
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"process hung for {timeout}s: {self.popen.args}") from None
        return CliResult(code, self.stdout, self.stderr)

    def kill(self) -> None:
        """kill -9, as the OOM killer or a reboot does; reaps the process."""
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=PROCESS_TIMEOUT_SECONDS)


_counter = iter(range(10**9))


def spawn(
    command: Sequence[str],
    env: dict[str, str],
    scratch: Path,
    cwd: Path | None = None,
    stdin: bytes | None = None,
) -> Proc:
    scratch.mkdir(parents=True, exist_ok=True)
    number = next(_counter)
    out_path, err_path = scratch / f"proc{number}.out", scratch / f"proc{number}.err"
    in_file = None
    if stdin is not None:
        in_path = scratch / f"proc{number}.in"
        in_path.write_bytes(stdin)
        in_file = in_path.open("rb")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        popen = subprocess.Popen(
            list(command),
            env=env,
            cwd=cwd or scratch,
            stdin=in_file if in_file is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    if in_file is not None:
        in_file.close()
    return Proc(popen, out_path, err_path)


def run_all(
    commands: Iterable[Sequence[str]], env: dict[str, str], scratch: Path, cwd: Path | None = None
) -> list[CliResult]:
    """Start every command at once (cron firing together), then wait for all of them."""
    procs = [spawn(command, env, scratch, cwd) for command in commands]
    return [proc.wait() for proc in procs]


def run_batched(
    commands: Sequence[Sequence[str]],
    env: dict[str, str],
    scratch: Path,
    width: int = 4,
    cwd: Path | None = None,
) -> list[CliResult]:
    """Run commands `width` at a time (many independent checks on 2 cores)."""
    results: list[CliResult] = []
    for start in range(0, len(commands), width):
        results.extend(run_all(commands[start : start + width], env, scratch, cwd))
    return results


def write_spec(path: Path, batches: list[list[tuple[int, int, int]]]) -> Path:
    """The batches merge_worker.py merges, one transaction each."""
    path.write_text(json.dumps({"batches": batches}))
    return path


def committed_batches(stdout: str) -> list[int]:
    return [int(line.split()[1]) for line in stdout.splitlines() if line.startswith("committed ")]


def added_total(stdout: str) -> int:
    """The sum of `added` over the worker's `committed <index> <added>` lines."""
    return sum(
        int(line.split()[2]) for line in stdout.splitlines() if line.startswith("committed ")
    )


# -- what the database holds ------------------------------------------------------


def retweets(url: str) -> set[tuple[int, int, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tweet_id, retweeter_id, author_id FROM retweets").fetchall()
    return {(int(a), int(b), int(c)) for a, b, c in rows}  # type: ignore[call-overload]


def count(url: str, table: str) -> int:
    from psycopg import sql

    with psycopg.connect(url) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()
    assert row is not None
    return int(row[0])  # type: ignore[call-overload]


# -- errors as the user sees them ---------------------------------------------------


def assert_one_line_error(
    result: CliResult, codes: Iterable[int], extra: Sequence[str] = ()
) -> None:
    """Exit code among `codes`, stderr one `retweetctl: error:` line, no traceback.

    RTC_SHOW_ERRORS=1 (with pytest -s) prints each error checked: to read the wording.

    `extra`: other stderr lines a command is known to print before its error.
    """
    allowed = set(codes)
    if os.environ.get("RTC_SHOW_ERRORS"):
        print(f"\n[{result.exit_code}] {result.stderr.strip()}")
    assert result.exit_code in allowed, (result.exit_code, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line not in extra]
    assert len(lines) == 1 and lines[0].startswith("retweetctl: error: "), result.stderr
    assert "Traceback" not in result.stderr


# -- secrets ------------------------------------------------------------------------


def secret_forms(secrets: Iterable[str] = SECRETS) -> list[str]:
    """Each secret as text and percent-encoded (how URLs and headers carry it)."""
    forms: set[str] = set()
    for secret in secrets:
        forms.update({secret, quote(secret, safe=""), secret.lower()})
    return sorted(forms)


def leaks(texts: dict[str, str], directories: Iterable[Path] = ()) -> list[str]:
    """Where any secret shows: in the named texts, or in any file under the directories."""
    forms = secret_forms()
    found = [f"{name}: {form}" for name, text in texts.items() for form in forms if form in text]
    for directory in directories:
        for path in sorted(directory.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue  # sockets and the like
            found.extend(f"{path}: {form}" for form in forms if form.encode() in data)
    return found
