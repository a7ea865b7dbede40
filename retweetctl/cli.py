"""The command line: parse arguments, call the library, turn results and errors into words and exit codes."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback

import psycopg
import typer
from psycopg import errors

from retweetctl import __version__
from retweetctl.commands import db, fetch, load, matrix, watch
from retweetctl.commands.common import AppState
from retweetctl.config import Secret
from retweetctl.database import first_line
from retweetctl.errors import ExitCode, RetweetctlError

app = typer.Typer(
    name="retweetctl",
    help="Keep a PostgreSQL table of who retweets whom, and show the author-by-retweeter matrix.",
    no_args_is_help=True,
    # Typer's pretty tracebacks print local variables, which can hold secrets.
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(watch.app, name="watch")
app.command("fetch")(fetch.command)
app.command("load")(load.command)
app.command("matrix")(matrix.command)


def _show_version(value: bool) -> None:
    if value:
        print(f"retweetctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Log what happens, and show tracebacks (secrets redacted)."
    ),
) -> None:
    """Keep a PostgreSQL table of who retweets whom, and show the author-by-retweeter matrix."""
    ctx.obj = AppState(debug=debug)
    # Python warnings (tweepy warns about tweet fields) become log records: shown with
    # --debug, scrubbed; otherwise silent, so `--quiet` under cron stays quiet.
    logging.captureWarnings(True)
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(RedactingFilter())
        logging.basicConfig(level=logging.DEBUG, handlers=[handler], force=True)
    elif not logging.getLogger().handlers:
        # Without a handler, logging's last resort prints library warnings raw on stderr
        # (psycopg's "error ignored in rollback on <conn>", a logged exception with a
        # secret in it): a second, unscrubbed line after our one-line error.
        logging.getLogger().addHandler(logging.NullHandler())


class RedactingFilter(logging.Filter):
    """Replace every secret retweetctl knows of in a log record (tweepy logs its headers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = Secret.scrub(record.getMessage())
        record.args = None
        # A logged exception's traceback is formatted after filters run: format it now,
        # scrubbed, so the handler prints our text instead of the raw one.
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = Secret.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = Secret.scrub(record.stack_info)
        return True


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map every failure to one line on stderr and an exit code."""
    code = run(argv)
    try:
        sys.stdout.flush()  # here, not at interpreter exit, where a broken pipe is noise
    except BrokenPipeError:
        code = _reader_gone()
    sys.exit(code)


def run(argv: list[str] | None = None) -> int:
    """Run the app; return the exit code instead of exiting (tests call this)."""
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        app(args=argv, prog_name="retweetctl")  # standalone mode: usage errors exit 2 by themselves
    except SystemExit as exc:
        if type(sys.stdout).__name__ == "PacifyFlushWrapper":
            # Typer met EPIPE on stdout, wrapped it and chose exit 1: make it the usual 141.
            return _reader_gone()
        return _exit_code(exc.code)
    except RetweetctlError as exc:
        _error(exc.message)
        return exc.exit_code
    except psycopg.Error as exc:
        code, message = database_failure(exc)
        if code == ExitCode.SOFTWARE:
            return _internal_error(exc, debug)
        _error(message)
        return code
    except BrokenPipeError:
        return _reader_gone()
    except Exception as exc:  # a bug: say so in one line, the traceback only with --debug
        return _internal_error(exc, debug)
    return ExitCode.OK


# Database errors by psycopg.errors class (not SQLSTATE prefixes: psycopg's classes
# have no common base per SQLSTATE class), first match wins: exit code and wording.
DATABASE_FAILURES: tuple[tuple[tuple[type[psycopg.Error], ...], ExitCode, str], ...] = (
    (
        (errors.TransactionRollback, errors.DeadlockDetected, errors.SerializationFailure),
        ExitCode.TEMPORARY,
        "database conflict, the transaction in flight was rolled back; retry",
    ),
    (
        (errors.QueryCanceled,),
        ExitCode.TEMPORARY,
        "the server cancelled a statement (statement_timeout, or an administrator); the"
        " transaction in flight was rolled back; retry later, or raise the role's statement_timeout",
    ),
    (
        (errors.LockNotAvailable,),
        ExitCode.TEMPORARY,
        "a lock was not granted within the server's lock_timeout; retry later",
    ),
    (
        (errors.IdleInTransactionSessionTimeout,),
        ExitCode.TEMPORARY,
        "the server closed the session after idle_in_transaction_session_timeout; the"
        " transaction in flight was rolled back; retry",
    ),
    (
        (errors.InsufficientPrivilege,),
        ExitCode.CONFIG,
        "the database role lacks a right retweetctl needs (README: Configuration, shared server)",
    ),
    ((psycopg.OperationalError,), ExitCode.UNAVAILABLE, "database unavailable"),
)


def database_failure(exc: psycopg.Error) -> tuple[ExitCode, str]:
    """The exit code and line for a database error; SOFTWARE for one that means a bug."""
    detail = first_line(exc)
    for classes, code, wording in DATABASE_FAILURES:
        if isinstance(exc, classes):
            return code, f"{wording}: {detail}"
    return ExitCode.SOFTWARE, detail


def _internal_error(exc: BaseException, debug: bool) -> int:
    """A bug: say so in one line, the traceback only with --debug."""
    if debug:
        sys.stderr.write(Secret.scrub("".join(traceback.format_exception(exc))))
    _error(
        f"internal error: {type(exc).__name__}: {first_line(exc)} (run with --debug for details)"
    )
    return ExitCode.SOFTWARE


def _reader_gone() -> int:
    """stdout's reader went away (`| head`): stop quietly, like any Unix filter."""
    # Point stdout at /dev/null so the interpreter's final flush does not fail again.
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ else 1)
        os.close(devnull)
    return ExitCode.BROKEN_PIPE


def _exit_code(code: object) -> int:
    if code is None:
        return ExitCode.OK
    if isinstance(code, int):
        return code
    _error(str(code))
    return ExitCode.SOFTWARE


def _error(message: str) -> None:
    sys.stderr.write(f"retweetctl: error: {Secret.scrub(message)}\n")
