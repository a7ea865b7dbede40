"""`retweetctl load`: not built yet (see the open issue)."""

from __future__ import annotations

import typer

from retweetctl.errors import RetweetctlError


def command(ctx: typer.Context) -> None:
    """Not available yet in this version."""
    raise RetweetctlError("load is not implemented yet")
