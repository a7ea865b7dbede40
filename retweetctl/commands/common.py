"""What every command shares: settings, the database connection, and the two consoles."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import typer
from rich.console import Console

from retweetctl.config import Settings, load_settings
from retweetctl.database import Connection, connect

# Data and summaries go to stdout; errors, warnings and progress to stderr.
stdout_console = Console(soft_wrap=True)
stderr_console = Console(stderr=True, soft_wrap=True)


@dataclass
class AppState:
    debug: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
            for warning in self._settings.warnings:
                warn(warning)
        return self._settings

    def connect(self) -> Connection:
        return connect(self.settings())


def state(ctx: typer.Context) -> AppState:
    """The AppState of the root command (created by cli.root)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, AppState):
        obj = AppState()
        ctx.find_root().obj = obj
    return obj


def warn(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")
