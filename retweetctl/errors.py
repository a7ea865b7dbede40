"""Exit codes (sysexits-style) and the exceptions that carry them to the CLI."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented exit codes; README's table lists the same values."""

    OK = 0
    USAGE = 2  # bad argument or option
    DATA_ERROR = 65  # EX_DATAERR: input data malformed
    NO_INPUT = 66  # EX_NOINPUT: an input file is missing or unreadable
    UNAVAILABLE = 69  # EX_UNAVAILABLE: database or server binaries unavailable
    SOFTWARE = 70  # EX_SOFTWARE: a bug in retweetctl
    TEMPORARY = 75  # EX_TEMPFAIL: rate limit, outage; retrying later helps
    NO_PERMISSION = 77  # EX_NOPERM: credentials refused
    CONFIG = 78  # EX_CONFIG: configuration missing or invalid
    INTERRUPTED = 130  # 128 + SIGINT: Ctrl-C (typer exits so, silently)
    BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away (`| head`)


class RetweetctlError(Exception):
    """An error the user can act on: a one-line message and an exit code."""

    exit_code: ExitCode = ExitCode.SOFTWARE

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0])


class UsageError(RetweetctlError):
    exit_code = ExitCode.USAGE


class DataError(RetweetctlError):
    exit_code = ExitCode.DATA_ERROR


class NoInputError(RetweetctlError):
    exit_code = ExitCode.NO_INPUT


class UnavailableError(RetweetctlError):
    exit_code = ExitCode.UNAVAILABLE


class TemporaryFailure(RetweetctlError):
    exit_code = ExitCode.TEMPORARY


class CredentialsError(RetweetctlError):
    exit_code = ExitCode.NO_PERMISSION


class ConfigError(RetweetctlError):
    exit_code = ExitCode.CONFIG
