"""Rendering a Matrix: a rich heatmap table, CSV, JSON, and the edges CSV. No database here."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from retweetctl.matrix import Edge, Matrix

EDGES_HEADER = ("retweeter_id", "retweeter_username", "author_id", "author_username", "count")
# Background shades from cool to hot; counts are skewed, so a cell's shade is
# its log-scaled share of the largest shown count.
HEAT_STYLES = (
    "black on #c6dbef",
    "black on #6baed6",
    "white on #2171b5",
    "black on #fd8d3c",
    "bold white on #d7301f",
)
ZERO_STYLE = "dim"
TOTAL_STYLE = "bold"
# Wide enough that no realistic matrix wraps when written to a file or a pipe.
UNWRAPPED_WIDTH = 100_000


def heat_style(value: int, largest: int) -> str:
    """The style of a cell: dim for zero, else a shade by log(value) / log(largest)."""
    if value <= 0:
        return ZERO_STYLE
    if largest <= 1:
        return HEAT_STYLES[0]
    share = math.log(value) / math.log(largest)
    return HEAT_STYLES[min(int(share * len(HEAT_STYLES)), len(HEAT_STYLES) - 1)]


def build_table(matrix: Matrix, *, ids: bool = False) -> Table:
    """The matrix as a rich Table: retweeters down, authors across, totals last."""
    table = Table(box=box.SIMPLE, show_footer=True, show_edge=False, pad_edge=False)
    table.add_column("", footer="total", style=TOTAL_STYLE, no_wrap=True)
    for author in matrix.authors:
        table.add_column(
            author.label(ids),
            footer=str(author.total),
            justify="right",
            no_wrap=True,
        )
    # Totals are whole rows and columns (within the filters), not just the cells shown.
    table.add_column("total", justify="right", style=TOTAL_STYLE, no_wrap=True)
    largest = max(matrix.cells.values(), default=0)
    # Cells padded to the column's width, so the shade fills the cell, not just the digits.
    widths = [
        max(len(author.label(ids)), len(str(author.total)), len(str(largest)))
        for author in matrix.authors
    ]
    for i, retweeter in enumerate(matrix.retweeters):
        values = matrix.row(i)
        table.add_row(
            retweeter.label(ids),
            *(
                Text(str(v).rjust(w), style=heat_style(v, largest))
                for v, w in zip(values, widths, strict=True)
            ),
            str(retweeter.total),
        )
    return table


def table_text(
    matrix: Matrix, *, ids: bool = False, color: bool = False, width: int | None = None
) -> str:
    """The table as text: without colour codes unless asked, never wrapped unless a width is given."""
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width or UNWRAPPED_WIDTH,
        force_terminal=color,
        no_color=not color,
        color_system="truecolor" if color else None,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )
    console.print(build_table(matrix, ids=ids))
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def left_out_lines(matrix: Matrix, *, table: bool) -> list[str]:
    """`N authors left out, use … to see them`, for each dimension that was cut."""
    lines = []
    for noun, option, left_out, shown in (
        ("authors", "--top-authors", matrix.authors_left_out, len(matrix.authors)),
        ("retweeters", "--top-retweeters", matrix.retweeters_left_out, len(matrix.retweeters)),
    ):
        if left_out > 0:
            how = (
                f"{option} {shown + left_out}, or --format edges"
                if table
                else f"{option} {shown + left_out} or --all"
            )
            if left_out == 1:
                noun = noun.removesuffix("s")
            lines.append(f"{left_out} {noun} left out, use {how} to see them")
    return lines


def csv_lines(matrix: Matrix, *, ids: bool = False) -> Iterator[str]:
    """Header `retweeter,<author labels>`, then one line per retweeter; data only."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(values: Iterable[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line(["retweeter", *(author.label(ids) for author in matrix.authors)])
    for i, retweeter in enumerate(matrix.retweeters):
        yield line([retweeter.label(ids), *matrix.row(i)])


def json_chunks(matrix: Matrix) -> Iterator[str]:
    """The JSON document, written a row at a time; the same bytes as json.dumps of the whole."""

    def people(persons: list[object]) -> str:
        return json.dumps(persons, ensure_ascii=False)

    authors = [{"id": str(p.id), "username": p.username, "total": p.total} for p in matrix.authors]
    retweeters = [
        {"id": str(p.id), "username": p.username, "total": p.total} for p in matrix.retweeters
    ]
    yield f'{{"authors": {people(list(authors))}, "retweeters": {people(list(retweeters))}, "counts": ['
    for i in range(len(matrix.retweeters)):
        yield (", " if i else "") + json.dumps(matrix.row(i))
    yield "]}\n"


def edges_lines(edges: Iterable[Edge]) -> Iterator[str]:
    """The long form networkx, Gephi and R read; an unknown username is an empty field."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EDGES_HEADER)
    yield buffer.getvalue()
    for edge in edges:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(
            (
                edge.retweeter_id,
                edge.retweeter_username or "",
                edge.author_id,
                edge.author_username or "",
                edge.count,
            )
        )
        yield buffer.getvalue()
