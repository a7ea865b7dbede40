"""`retweetctl matrix`: how often each retweeter retweeted each author."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer

from retweetctl.commands.common import state, stdout_console, warn
from retweetctl.errors import UsageError
from retweetctl.matrix import (
    DEFAULT_TOP_AUTHORS,
    DEFAULT_TOP_RETWEETERS,
    MatrixQuery,
    edges,
    has_retweets,
    load_matrix,
    resolve_users,
)
from retweetctl.report import (
    build_table,
    csv_lines,
    edges_lines,
    json_chunks,
    left_out_lines,
    table_text,
)

EMPTY_DATABASE = "no retweets stored yet: add some with `retweetctl fetch` or `retweetctl load`"
NOTHING_MATCHES = "no retweets match the filters"
# What open(path, "w") would create; mkstemp's 0600 would surprise a user.
FILE_MODE = 0o666


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    edges = "edges"


def command(
    ctx: typer.Context,
    format: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="table (a heatmap), csv, json, or edges (long form, never limited).",
        ),
    ] = Format.table,
    top_authors: Annotated[
        int, typer.Option("--top-authors", min=1, help="Show the N authors with most retweets.")
    ] = DEFAULT_TOP_AUTHORS,
    top_retweeters: Annotated[
        int, typer.Option("--top-retweeters", min=1, help="Show the N most active retweeters.")
    ] = DEFAULT_TOP_RETWEETERS,
    all_: Annotated[
        bool,
        typer.Option(
            "--all", help="csv and json: every author and retweeter (says how many cells first)."
        ),
    ] = False,
    author: Annotated[
        list[str] | None,
        typer.Option("--author", help="Only this author (id or @username); repeat for more."),
    ] = None,
    retweeter: Annotated[
        list[str] | None,
        typer.Option("--retweeter", help="Only this retweeter (id or @username); repeat for more."),
    ] = None,
    min_count: Annotated[
        int,
        typer.Option(
            "--min-count", min=1, help="Drop cells below N (totals then count only the cells kept)."
        ),
    ] = 1,
    ids: Annotated[
        bool, typer.Option("--ids", help="Label by numeric id even where the username is known.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Write to FILE instead of stdout."),
    ] = None,
) -> None:
    """Show the author-by-retweeter matrix: how often each retweeter retweeted each author."""
    if all_ and format is Format.table:
        raise UsageError(
            "--all applies to --format csv and json; for a table, raise --top-authors/--top-retweeters"
        )
    with state(ctx).connect() as conn:
        query = MatrixQuery(
            top_authors=None if all_ else top_authors,
            top_retweeters=None if all_ else top_retweeters,
            authors=resolve_users(conn, author) if author else None,
            retweeters=resolve_users(conn, retweeter) if retweeter else None,
            min_count=min_count,
        )
        if format is Format.edges:
            if not has_retweets(conn):
                conn.rollback()
                warn(EMPTY_DATABASE)
                return
            conn.rollback()
            _write(edges_lines(edges(conn, query)), output)
            return
        matrix = load_matrix(conn, query)
    if not matrix.has_retweets or not matrix.retweeters:
        message = EMPTY_DATABASE if not matrix.has_retweets else NOTHING_MATCHES
        if format is Format.table and output is None:
            stdout_console.print(message, markup=False, highlight=False)
        else:
            warn(message)
        return
    if format is Format.table:
        lines = left_out_lines(matrix, table=True)
        if output is None and stdout_console.is_terminal:
            stdout_console.print(build_table(matrix, ids=ids))
            for line in lines:
                stdout_console.print(line, markup=False, highlight=False)
            return
        _write([table_text(matrix, ids=ids), *(line + "\n" for line in lines)], output)
        return
    for line in left_out_lines(matrix, table=False):
        warn(line)
    if all_:
        warn(
            f"writing {len(matrix.retweeters):,} retweeters x {len(matrix.authors):,} authors"
            f" = {matrix.size:,} cells"
        )
    _write(csv_lines(matrix, ids=ids) if format is Format.csv else json_chunks(matrix), output)


def _write(chunks: Iterable[str], output: Path | None) -> None:
    """To stdout, or to FILE through a temporary file renamed at the end: never half a file."""
    if output is None:
        _copy(chunks, sys.stdout)
        return
    with _atomic(output) as stream:
        _copy(chunks, stream)


def _copy(chunks: Iterable[str], stream: TextIO) -> None:
    for chunk in chunks:
        stream.write(chunk)
    stream.flush()


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[TextIO]:
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, scratch = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.chmod(scratch, FILE_MODE & ~_umask())
        os.replace(scratch, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
        if isinstance(exc, OSError):  # a full disk or a file-size limit: FILE is untouched
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
