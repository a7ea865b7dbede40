"""`retweetctl db …`: the database retweetctl uses, and the embedded server's lifecycle."""

from __future__ import annotations

import typer

from retweetctl.aggregate import check as check_aggregate
from retweetctl.commands.common import state, stdout_console
from retweetctl.config import redact_dsn, remove_password
from retweetctl.database import embedded_server
from retweetctl.distributed import cluster_info
from retweetctl.distributed import distribute as distribute_tables
from retweetctl.errors import DataError, UsageError

app = typer.Typer(
    help="Manage the database: the embedded server's lifecycle and its connection string.",
    no_args_is_help=True,
)


@app.command()
def status(ctx: typer.Context) -> None:
    """Show which database is used and whether the embedded server is running."""
    settings = state(ctx).settings()
    if settings.database_url is not None:
        url = redact_dsn(settings.database_url.reveal())
        with state(ctx).connect() as conn:
            version = conn.execute("SHOW server_version").fetchone()
            cluster = cluster_info(conn)
        stdout_console.print(f"configured database: {url}", markup=False, highlight=False)
        stdout_console.print(f"server version: {version[0] if version else '?'}", markup=False)
        if cluster is not None:
            shards = (
                f"{cluster.retweets_shards} shards"
                if cluster.retweets_shards is not None
                else "not distributed (run `retweetctl db distribute`)"
            )
            stdout_console.print(
                f"Citus {cluster.version}: {cluster.workers} active worker(s); retweets: {shards}",
                markup=False,
            )
        return
    info = embedded_server(settings).status()
    stdout_console.print(
        f"embedded PostgreSQL: {'running' if info.running else 'stopped'}", markup=False
    )
    if info.pid is not None:
        stdout_console.print(f"pid: {info.pid}", markup=False)
    stdout_console.print(f"data directory: {info.data_dir}", markup=False, highlight=False)
    if info.socket_dir is not None:
        stdout_console.print(f"socket directory: {info.socket_dir}", markup=False, highlight=False)
    if info.version is not None:
        stdout_console.print(f"PostgreSQL version: {info.version}", markup=False)
    stdout_console.print(
        f"server binaries: {info.bindir or 'not found'}", markup=False, highlight=False
    )


@app.command()
def start(ctx: typer.Context) -> None:
    """Start the embedded server (creating it on first use) and bring the schema up to date."""
    settings = state(ctx).settings()
    with state(ctx).connect():
        pass
    if settings.database_url is not None:
        stdout_console.print(
            f"using the configured database {redact_dsn(settings.database_url.reveal())}; schema is current",
            markup=False,
            highlight=False,
        )
        return
    info = embedded_server(settings).status()
    stdout_console.print(
        f"embedded PostgreSQL running (pid {info.pid}) in {info.data_dir}",
        markup=False,
        highlight=False,
    )


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the embedded server (fast shutdown: open transactions roll back)."""
    settings = state(ctx).settings()
    if settings.database_url is not None:
        raise UsageError("db stop manages only the embedded server; RETWEETCTL_DATABASE_URL is set")
    was_running = embedded_server(settings).stop()
    stdout_console.print(
        "embedded PostgreSQL stopped" if was_running else "embedded PostgreSQL was not running",
        markup=False,
    )


@app.command()
def url(ctx: typer.Context) -> None:
    """Print a connection string for psql: psql "$(retweetctl db url)". Passwords are left out."""
    settings = state(ctx).settings()
    if settings.database_url is not None:
        print(remove_password(settings.database_url.reveal()))
        return
    with state(ctx).connect():  # the schema exists before the user looks with psql
        pass
    print(embedded_server(settings).url())


@app.command()
def distribute(ctx: typer.Context) -> None:
    """On a Citus coordinator: distribute retweetctl's tables (idempotent); stored rows move to the workers."""
    with state(ctx).connect() as conn:
        done = distribute_tables(conn)
    for line in done or ["already distributed: nothing to do"]:
        stdout_console.print(line, markup=False, highlight=False)


@app.command()
def check(ctx: typer.Context) -> None:
    """Check that the matrix aggregate equals a fresh GROUP BY over retweets; exit 65 if not."""
    with state(ctx).connect() as conn:
        result = check_aggregate(conn)
    if result.ok:
        stdout_console.print(
            f"aggregate matches retweets: {result.cells:,} cells,"
            f" {result.authors:,} authors, {result.retweeters:,} retweeters",
            markup=False,
            highlight=False,
        )
        return
    for difference in result.shown:
        stdout_console.print(difference.describe(), markup=False, highlight=False)
    raise DataError(
        f"the matrix aggregate differs from retweets in {result.differences:,} places"
        f" (first {len(result.shown)} shown above)"
    )
