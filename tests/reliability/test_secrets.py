"""A distinctive bearer token and database password never show: not in output, logs or files.

Every command path (discovered from the app, so new commands are covered without
editing this file) runs with both secrets set, with and without --debug, against a
database that is up, one that is down, and a bug that puts the secrets into an
exception message. After each run, stdout, stderr and every file under
RETWEETCTL_HOME and the working directory are searched for either secret.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from retweetctl.config import Secret
from retweetctl.errors import ExitCode
from retweetctl.sandbox import Fault, SandboxServer, SandboxTweet, SandboxUser
from tests.conftest import CliResult
from tests.reliability.harness import (
    PASSWORD,
    TOKEN,
    assert_one_line_error,
    cli_command,
    leaks,
    run_batched,
    spawn,
)
from tests.test_cli import command_paths

SAMPLE_CSV = Path(__file__).resolve().parents[1] / "data" / "bad" / "csv" / "bom_crlf.csv"
SAMPLE_TWEET = 651
# Arguments that take each command past its argument parsing into its real work; a
# path not listed runs bare (which is a usage error for some: also a path to check).
COMMAND_ARGS: dict[str, list[list[str]]] = {
    "fetch": [["--limit", "0", str(SAMPLE_TWEET)], ["--json", str(SAMPLE_TWEET), "652"]],
    "load": [[str(SAMPLE_CSV)], ["--json", str(SAMPLE_CSV)]],
    "watch add": [[str(SAMPLE_TWEET)]],
    "watch remove": [[str(SAMPLE_TWEET)]],
    "watch list": [["--json"]],
    "matrix": [["--format", "json"], ["--format", "edges"]],
}


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A fake X API that answers only to the distinctive token."""
    with SandboxServer() as server:
        server.state.expected_token = TOKEN
        server.state.add(
            SandboxTweet(
                SAMPLE_TWEET,
                SandboxUser(9, "author", "A"),
                [SandboxUser(r, f"u{r}", "U") for r in range(1, 130)],
            )  # fmt: skip
        )
        yield server


def invocations() -> list[list[str]]:
    """Every command path, bare and with its sample arguments, each also with --debug."""
    found: list[list[str]] = []
    for path, _ in command_paths():
        for extra in [[], *COMMAND_ARGS.get(path, [])]:
            args = [*path.split(), *extra]
            found.extend([args, ["--debug", *args]])
    return found


def secret_env(base: dict[str, str], database_url: str | None, home: Path) -> dict[str, str]:
    env = dict(base)
    env.pop("RETWEETCTL_DATABASE_URL", None)
    if database_url is not None:
        env["RETWEETCTL_DATABASE_URL"] = database_url
    env["X_BEARER_TOKEN"] = TOKEN
    env["RETWEETCTL_HOME"] = str(home)
    # Never the network: a closed loopback port unless a test points at its fake X API.
    env["RETWEETCTL_API_BASE_URL"] = "http://127.0.0.1:9"
    env["RETWEETCTL_RETRY_BACKOFF"] = "0.01"
    return env


def with_password(url: str) -> str:
    assert url.startswith("postgresql://postgres@"), url
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)


def check_no_leaks(results: list[CliResult], commands: list[list[str]], *dirs: Path) -> None:
    texts: dict[str, str] = {}
    for command, result in zip(commands, results, strict=True):
        name = " ".join(command)
        texts[f"stdout of {name}"] = result.stdout
        texts[f"stderr of {name}"] = result.stderr
    assert leaks(texts, dirs) == []


def test_every_command_with_the_database_up(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, sandbox: SandboxServer
) -> None:
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    cwd.mkdir()
    env = secret_env(cli_env, with_password(db_url), home)
    env.update(RETWEETCTL_API_BASE_URL=sandbox.url, RETWEETCTL_RETRY_BACKOFF="0.01")
    commands = invocations()
    results = run_batched([cli_command(c) for c in commands], env, tmp_path / "p", cwd=cwd)
    check_no_leaks(results, commands, home, cwd)
    # The secrets really were in use: the database was reached, the X API answered.
    status = results[commands.index(["db", "status"])]
    assert status.exit_code == 0 and "postgres:***@" in status.stdout, status
    fetched = results[commands.index(["--debug", "fetch", "--limit", "0", str(SAMPLE_TWEET)])]
    assert fetched.exit_code == 0 and "records added" in fetched.stdout, fetched.stderr
    assert {r.bearer for r in sandbox.state.requests} == {TOKEN}


@pytest.mark.parametrize("status", [401, 403, 429, 500])
def test_fetch_failures_with_debug_never_show_the_token(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, sandbox: SandboxServer, status: int
) -> None:
    """tweepy logs its request headers (Authorization: Bearer …) at debug level."""
    sandbox.state.fault(Fault(r"/2/tweets", status, b'{"title": "no"}', times=1000))
    env = secret_env(cli_env, with_password(db_url), tmp_path / "home")
    env.update(RETWEETCTL_API_BASE_URL=sandbox.url, RETWEETCTL_RETRY_BACKOFF="0.01")
    commands = [["--debug", "fetch", str(SAMPLE_TWEET)], ["fetch", str(SAMPLE_TWEET)]]
    results = run_batched([cli_command(c) for c in commands], env, tmp_path / "p", cwd=tmp_path)
    check_no_leaks(results, commands, tmp_path)
    assert results[0].exit_code in (ExitCode.NO_PERMISSION, ExitCode.TEMPORARY), results[0].stderr
    assert "***" in results[0].stderr  # the debug log did carry the (redacted) header
    assert_one_line_error(results[1], [ExitCode.NO_PERMISSION, ExitCode.TEMPORARY])


DOWN_URLS = [
    f"postgresql://bob:{PASSWORD}@127.0.0.1:1/none",
    f"host=127.0.0.1 port=1 user=bob password={PASSWORD} dbname=none",
    f"host=127.0.0.1 port=1 user=bob password='{PASSWORD}' connect_timeout=2",
    f"postgresql://bob@127.0.0.1:1/none?password={PASSWORD}",
]
MALFORMED_URLS = [
    f"postgresql://bob:{PASSWORD}@[::1/none",  # unbalanced IPv6 bracket
    f"postgresql://bob:{PASSWORD}@host:notaport/none",
    f"postgresql://bob:{PASSWORD}@host/none?bogus_option=1",
    f"host=x password={PASSWORD} nonsense",
    f"host=x password='{PASSWORD}",  # unterminated quote
    f"POSTGRESQL://bob:{PASSWORD}@host/none",
    f"postgresql://bob:{PASSWORD}@host/none?sslpassword={PASSWORD}",
    f"host=127.0.0.1 port=1 sslpassword={PASSWORD}",
]


def run_per_url(
    cli_env: dict[str, str], tmp_path: Path, urls: list[str], commands: list[list[str]]
) -> list[tuple[list[str], CliResult]]:
    """Each command with each URL, all checked for leaks; returns (command, result) pairs."""
    done: list[tuple[list[str], CliResult]] = []
    for number, url in enumerate(urls):
        root = tmp_path / f"url{number}"
        env = secret_env(cli_env, url, root / "home")
        (root / "cwd").mkdir(parents=True)
        results = run_batched(
            [cli_command(c) for c in commands],
            env,
            root / "p",
            width=len(commands),
            cwd=root / "cwd",
        )
        check_no_leaks(results, commands, root / "home", root / "cwd")
        done.extend(zip(commands, results, strict=True))
    return done


def test_database_down_in_every_connection_string_form(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    commands = [
        ["db", "status"],
        ["db", "start"],
        ["--debug", "db", "status"],
        ["--debug", "db", "url"],
    ]
    for command, result in run_per_url(cli_env, tmp_path, DOWN_URLS, commands):
        if command[0] != "--debug":
            assert_one_line_error(result, [ExitCode.UNAVAILABLE])


def test_malformed_connection_strings_never_echo_the_password(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    commands = [["db", "status"], ["--debug", "db", "status"], ["--debug", "db", "url"]]
    for command, result in run_per_url(cli_env, tmp_path, MALFORMED_URLS, commands):
        if command[0] != "--debug":
            assert_one_line_error(result, [ExitCode.CONFIG, ExitCode.UNAVAILABLE])


def test_embedded_server_with_the_token_in_a_config_file(
    cli_env: dict[str, str], tmp_path: Path, sandbox: SandboxServer
) -> None:
    """The embedded server's own files (log, data) never receive a secret either."""
    home, cwd = tmp_path / "h", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    config = home / "config.toml"
    config.write_text(f'bearer_token = "{TOKEN}"\n')
    os.chmod(config, 0o600)
    env = secret_env(cli_env, None, home)
    env.pop("X_BEARER_TOKEN")
    env["RETWEETCTL_API_BASE_URL"] = sandbox.url
    try:
        started = spawn(cli_command(["db", "start"]), env, tmp_path / "p", cwd=cwd).wait()
        assert started.exit_code == 0, started.stderr
        # --debug only: the paths that log the most; the plain ones ran in the tests above.
        commands = [c for c in invocations() if c[0] == "--debug" and c[-2:] != ["db", "stop"]]
        results = run_batched([cli_command(c) for c in commands], env, tmp_path / "p", cwd=cwd)
        commands.append(["db", "stop"])
        results.append(spawn(cli_command(["db", "stop"]), env, tmp_path / "p", cwd=cwd).wait())
        # The config file itself holds the token by design; everything else must not.
        config.unlink()
        check_no_leaks(results, commands, home, cwd)
    finally:
        spawn(cli_command(["db", "stop"]), env, tmp_path / "p").wait()


BUG = """
import logging, sys
import retweetctl.database as database
from retweetctl.cli import run

def broken_open(url, *_):
    # A bug that drags every secret into an exception message and a log record.
    message = f"boom connecting to {url} with Authorization: Bearer {sys.argv[1]}"
    try:
        raise RuntimeError(message)
    except RuntimeError:
        logging.getLogger("tweepy.client").exception("request failed: %s", message)
    raise ValueError(message)

database._open = broken_open
sys.exit(run(sys.argv[2:]))
"""


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_unexpected_exception_scrubs_message_traceback_and_logs(
    cli_env: dict[str, str], db_url: str, tmp_path: Path, debug: bool
) -> None:
    env = secret_env(cli_env, with_password(db_url), tmp_path / "home")
    args = [*(["--debug"] if debug else []), "db", "status"]
    result = spawn([sys.executable, "-c", BUG, TOKEN, *args], env, tmp_path / "p").wait()
    assert result.exit_code == ExitCode.SOFTWARE, result.stderr
    assert leaks({"stdout": result.stdout, "stderr": result.stderr}, [tmp_path]) == []
    assert "internal error: ValueError: boom connecting to" in result.stderr
    if debug:
        assert "Traceback" in result.stderr and "RuntimeError" in result.stderr
    else:
        assert_one_line_error(result, [ExitCode.SOFTWARE])


def test_debug_log_records_with_tracebacks_are_scrubbed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A library logging an exception (exc_info) must not print the secret in the traceback."""
    from retweetctl.cli import RedactingFilter

    Secret(TOKEN)
    logger = logging.getLogger("rtc-test-redaction")
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"header Bearer {TOKEN}")
        except RuntimeError:
            logger.exception("failed with %s", TOKEN, stack_info=True)
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert "RuntimeError: header Bearer ***" in err and "Stack (most recent call last)" in err
    assert TOKEN not in err
