"""`retweetctl matrix`: how often each retweeter retweeted each author."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from retweetctl.commands.catching_up import catch_up_telling
from retweetctl.commands.common import state, stdout_console, warn
from retweetctl.errors import UsageError
from retweetctl.matrix import (
    DEFAULT_TOP_AUTHORS,
    DEFAULT_TOP_RETWEETERS,
    Matrix,
    MatrixQuery,
    load_matrix,
    open_export,
    resolve_users,
)
from retweetctl.report import RENDERERS, Format, Options, fit

# A dense matrix (--all, csv or json) of more cells is refused: 50 million cells are
# about 100 MB of CSV, nearly all zeros, and 400 MB as a pandas DataFrame of int64;
# the edges formats give the same counts in one line per pair that has any.
DENSE_CELLS_MAX = 50_000_000

if TYPE_CHECKING:
    from retweetctl.database import Connection

# Re-ranking for the authors that fit can change the retweeters' labels and so the
# widths: fit again, a couple of times at most (the second round almost never cuts).
FIT_ROUNDS = 3

EMPTY_DATABASE = "no retweets stored yet: add some with `retweetctl fetch` or `retweetctl load`"
NOTHING_MATCHES = "no retweets match the filters"
# What open(path, "w") would create; mkstemp's 0600 would surprise a user.
FILE_MODE = 0o666
FORMAT_HELP = "; ".join(f"{name.value}: {r.help}" for name, r in RENDERERS.items())


def command(
    ctx: typer.Context,
    format: Annotated[
        Format,
        typer.Option("--format", "-f", metavar="FORMAT", help=f"{FORMAT_HELP}."),
    ] = Format.table,
    top_authors: Annotated[
        int,
        typer.Option(
            "--top-authors", min=1, metavar="N", help="Show the N authors with most retweets."
        ),
    ] = DEFAULT_TOP_AUTHORS,
    top_retweeters: Annotated[
        int,
        typer.Option(
            "--top-retweeters",
            min=1,
            metavar="N",
            help="Show the N retweeters who retweeted the authors shown most"
            " (ties: by whole total, then id).",
        ),
    ] = DEFAULT_TOP_RETWEETERS,
    all_: Annotated[
        bool,
        typer.Option(
            "--all", help="csv and json: every author and retweeter (says how many cells first)."
        ),
    ] = False,
    author: Annotated[
        list[str] | None,
        typer.Option(
            "--author",
            metavar="ID|@NAME",
            help="Only this author (id or @username); repeat for more.",
        ),
    ] = None,
    retweeter: Annotated[
        list[str] | None,
        typer.Option(
            "--retweeter",
            metavar="ID|@NAME",
            help="Only this retweeter (id or @username); repeat for more.",
        ),
    ] = None,
    min_count: Annotated[
        int,
        typer.Option(
            "--min-count",
            min=1,
            metavar="N",
            help="Drop cells below N (totals then count only the cells kept).",
        ),
    ] = 1,
    ids: Annotated[
        bool, typer.Option("--ids", help="Label by numeric id even where the username is known.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            dir_okay=False,
            metavar="FILE",
            help="Write to FILE instead of stdout.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="Only retweets at or after WHEN (ISO date or datetime; UTC unless it says).",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="WHEN",
            help="Only retweets before WHEN; a date alone means to the end of that day.",
        ),
    ] = None,
) -> None:
    """Show the author-by-retweeter matrix: how often each retweeter retweeted each author.

    Authors are the top by total (within the filters); retweeters are ranked by their
    retweets of those authors, so the rows shown retweet the columns shown. The total
    column is each retweeter's whole total.
    """
    renderer = RENDERERS[format]
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
            since=None if since is None else parse_when(since, "--since", end_of_day=False),
            until=None if until is None else parse_when(until, "--until", end_of_day=True),
        )
        if query.since and query.until and query.since >= query.until:
            raise UsageError("--since must be before --until")
        catch_up_telling(conn)
        if renderer.reads == "graph":
            with open_export(conn, query) as export:
                _write(renderer.render(export, Options(ids=ids)), output)
            _untimed(export.untimed)
            if not export.has_retweets:
                warn(EMPTY_DATABASE)
            elif export.edges_written == 0:
                warn(NOTHING_MATCHES)
            return
        matrix = load_matrix(conn, query)
        terminal = format is Format.table and output is None and stdout_console.is_terminal
        width_cut = False
        if terminal and matrix.retweeters:
            matrix, width_cut = _ranked_within_what_fits(conn, query, matrix, ids)
    _untimed(matrix.untimed)
    empty = not matrix.has_retweets or not matrix.retweeters
    message = EMPTY_DATABASE if not matrix.has_retweets else NOTHING_MATCHES
    if format is Format.table:
        if empty:
            if output is None:
                stdout_console.print(message, markup=False, highlight=False)
            else:
                warn(message)
            return
        options = Options(
            ids=ids,
            width=stdout_console.width if terminal else None,
            color=terminal
            and not stdout_console.no_color
            and stdout_console.color_system is not None,
            notes=_width_cut_notes if width_cut else _table_notes,
        )
        _write(renderer.render(matrix, options), output)
        return
    if empty:
        warn(message)
    for line in _left_out(matrix, how="{option} {everyone} or --all"):
        warn(line)
    if all_ and matrix.size > DENSE_CELLS_MAX:
        raise UsageError(
            f"--all would write {matrix.size:,} cells ({len(matrix.retweeters):,} retweeters x"
            f" {len(matrix.authors):,} authors), nearly all zeros: use --format edges (one line"
            " per retweeter-author pair), or fewer with --top-authors/--top-retweeters"
        )
    if all_:
        warn(
            f"writing {len(matrix.retweeters):,} retweeters x {len(matrix.authors):,} authors"
            f" = {matrix.size:,} cells"
        )
    _write(renderer.render(matrix, Options(ids=ids)), output)


def parse_when(text: str, option: str, *, end_of_day: bool) -> datetime:
    """An ISO 8601 date or datetime (UTC unless it gives an offset); a date alone is its
    midnight, or with end_of_day the next midnight (so `--until 2024-05-31` keeps the 31st)."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"bad {option} {text!r}: give an ISO date or datetime, e.g. 2024-05-31 or"
            " 2024-05-31T18:00:00Z"
        ) from None
    if len(value) == len("2024-05-31") and end_of_day:
        moment += timedelta(days=1)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _untimed(count: int) -> None:
    if count:
        noun = "retweet" if count == 1 else "retweets"
        warn(f"{count:,} {noun} without a known time left out of the time window")


def _ranked_within_what_fits(
    conn: Connection, query: MatrixQuery, matrix: Matrix, ids: bool
) -> tuple[Matrix, bool]:
    """On a terminal, the matrix of the authors that fit its width, its retweeters ranked
    within those authors (not within the --top-authors chosen), so the rows shown are the
    ones that retweet the columns shown; and whether the width cut authors."""
    width = stdout_console.width
    cut = False
    for _ in range(FIT_ROUNDS):
        shown, _table = fit(matrix, ids=ids, width=width)
        if len(shown.authors) >= len(matrix.authors):
            break
        cut = True
        matrix = load_matrix(conn, replace(query, top_authors=len(shown.authors)))
    return matrix, cut


def _width_cut_notes(matrix: Matrix) -> list[str]:
    left_out = matrix.authors_left_out
    lines = [
        f"{left_out:,} author{'' if left_out == 1 else 's'} left out:"
        f" {len(matrix.authors)} fit this width (try | less -S or --format edges)"
    ]
    return lines + [line for line in _table_notes(matrix) if "author" not in line.split()[1]]


def _table_notes(matrix: Matrix) -> list[str]:
    return _left_out(matrix, how="{option} {everyone}, or --format edges", many="--format edges")


# Above this many authors or retweeters in all, a table of them all is no use at a
# terminal: the note for the table points to the edges alone.
TABLE_EVERYONE_MAX = 1_000


def _left_out(matrix: Matrix, how: str, many: str | None = None) -> list[str]:
    """`N authors left out, use … to see them`, for each dimension that was cut; with
    `many`, that alone when there are more than TABLE_EVERYONE_MAX of them in all."""
    lines = []
    for noun, option, left_out, shown in (
        ("authors", "--top-authors", matrix.authors_left_out, len(matrix.authors)),
        ("retweeters", "--top-retweeters", matrix.retweeters_left_out, len(matrix.retweeters)),
    ):
        if left_out > 0:
            if left_out == 1:
                noun = noun.removesuffix("s")
            everyone = shown + left_out
            if many is not None and everyone > TABLE_EVERYONE_MAX:
                lines.append(f"{left_out:,} {noun} left out ({many} gives every cell)")
                continue
            use = how.format(option=option, everyone=everyone)
            # the count for a reader, the option's value as it is typed
            lines.append(f"{left_out:,} {noun} left out, use {use} to see them")
    return lines


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
