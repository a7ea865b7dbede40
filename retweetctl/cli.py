"""The command line: parse arguments, call the library, turn results and errors into words and exit codes."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import os
import sys
import traceback
from typing import Any

import typer
from typer.core import TyperGroup

from retweetctl.errors import ExitCode, RetweetctlError

# The help layout of each command (the root uses click's plain one: see `app`).
COMMAND_MARKUP_MODE: Any = "rich"

# Every command, imported only when it runs (or its own --help is asked): `--help` and
# `--version` then cost what Typer and rich cost, not psycopg, tweepy and requests.
# name: (module, attribute: a function or a Typer sub-app, the line `--help` lists;
# tests/test_startup.py checks each line is the first line of the command's own help).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "db": (
        "retweetctl.commands.db",
        "app",
        "Manage the database: the embedded server's lifecycle and its connection string.",
    ),
    "fetch": (
        "retweetctl.commands.fetch",
        "command",
        "Fetch who retweeted the given tweets (and/or the watch list) and store the new rows.",
    ),
    "load": (
        "retweetctl.commands.load",
        "command",
        "Load retweets from twarc2 / X API v2 JSONL or CSV files"
        " (tweet_id,retweeter_id,author_id).",
    ),
    "matrix": (
        "retweetctl.commands.matrix",
        "command",
        "Show the author-by-retweeter matrix: how often each retweeter retweeted each author.",
    ),
    "watch": (
        "retweetctl.commands.watch",
        "app",
        "The watch list: tweets that `fetch --watched` checks.",
    ),
}


class LazyGroup(TyperGroup):
    """The root group: a command's module is imported when the command is looked up to run;
    while the root's help lists the commands, each is a stub with its one line of help."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, attribute, short = COMMANDS[cmd_name]
            if self._listing:
                return typer.core.TyperCommand(cmd_name, help=short, short_help=short)
            self.commands[cmd_name] = _import_command(cmd_name, module, attribute)
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def _rich_help(group: Any) -> None:
    """Sub-apps inherit the root's plain layout otherwise."""
    group.rich_markup_mode = COMMAND_MARKUP_MODE
    for command in group.commands.values():
        command.rich_markup_mode = COMMAND_MARKUP_MODE
        command.help = one_line_paragraphs(command.help)


def _import_command(name: str, module: str, attribute: str) -> Any:
    target = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        _rich_help(group)
        return group
    command = typer.main.get_command_from_info(
        typer.models.CommandInfo(name=name, callback=target),
        pretty_exceptions_short=True,
        rich_markup_mode=COMMAND_MARKUP_MODE,
    )
    command.help = one_line_paragraphs(command.help)
    return command


def one_line_paragraphs(text: str | None) -> str | None:
    """A docstring's paragraphs each on one line. Typer (0.28) keeps the line breaks of the
    paragraphs after the first, and rich then wraps each source line again at the
    terminal's width: ragged lines of one word. A paragraph starting with \b is kept."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


app = typer.Typer(
    name="retweetctl",
    help="Keep a PostgreSQL table of who retweets whom, and show the author-by-retweeter matrix.",
    no_args_is_help=True,
    cls=LazyGroup,
    # The root's help in click's plain layout: Typer's rich layout imports rich.markdown
    # and markdown_it, 0.28 s (python -X importtime); each command keeps the rich layout.
    rich_markup_mode=None,
    # -h as well as --help, on every command (click passes it down to subcommands).
    context_settings={"help_option_names": ["-h", "--help"]},
    # Typer's pretty tracebacks print local variables, which can hold secrets.
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        from retweetctl import __version__

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
    from retweetctl.commands.common import AppState

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
        from retweetctl.config import Secret

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
    except Exception as exc:
        return _failed(exc, debug)
    return ExitCode.OK


def _failed(exc: Exception, debug: bool) -> int:
    """The exit code of an exception no command turned into a RetweetctlError."""
    from retweetctl.config import Secret
    from retweetctl.database import first_line

    if isinstance(exc, BrokenPipeError):
        return _reader_gone()
    if _is_database_error(exc):
        from retweetctl.dberrors import database_failure

        code, message = database_failure(exc)  # type: ignore[arg-type]
        if code != ExitCode.SOFTWARE:
            _error(message)
            return code
    # A bug: say so in one line, the traceback only with --debug.
    if debug:
        sys.stderr.write(Secret.scrub("".join(traceback.format_exception(exc))))
    _error(
        f"internal error: {type(exc).__name__}: {first_line(exc)} (run with --debug for details)"
    )
    return ExitCode.SOFTWARE


def _is_database_error(exc: Exception) -> bool:
    """psycopg.Error, without importing psycopg when no psycopg error occurred."""
    if "psycopg" not in sys.modules:
        return False
    import psycopg

    return isinstance(exc, psycopg.Error)


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
    from retweetctl.config import Secret

    sys.stderr.write(f"retweetctl: error: {Secret.scrub(message)}\n")
