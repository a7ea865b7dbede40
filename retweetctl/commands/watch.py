"""`retweetctl watch …`: not built yet (see the open issue)."""

from __future__ import annotations

import typer

from retweetctl.errors import RetweetctlError

app = typer.Typer(
    help="The watch list: tweets that `fetch --watched` checks.", no_args_is_help=True
)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Not available yet in this version."""
    raise RetweetctlError("watch is not implemented yet")
