"""Rendering the matrix and the graph, one renderer per output format. No database here.

Every format is one entry of RENDERERS: a name (a member of Format), what it reads
(the top-N `Matrix`, or the whole graph streamed from an `Export`) and a function
that yields the output in chunks. Adding a format is adding an entry.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Literal
from xml.sax.saxutils import escape, quoteattr

from retweetctl.matrix import Edge, Export, Matrix

if TYPE_CHECKING:
    from rich.table import Table

TIME_COLUMNS = ("first_retweeted_at", "last_retweeted_at")
EDGES_HEADER = (
    "retweeter_id",
    "retweeter_username",
    "author_id",
    "author_username",
    "count",
    *TIME_COLUMNS,
)
# Gephi's spreadsheet import takes Source, Target, Weight and Label as the edge itself and
# every other column as an attribute; a column named Type would be read as the edge kind.
GEPHI_HEADER = (
    "Source",
    "Target",
    "Weight",
    "Label",
    "source_username",
    "target_username",
    *TIME_COLUMNS,
)
# One hue, light to dark (ColorBrewer "Blues"): darker means more, with no false midpoint.
# Counts are skewed, so a cell's shade is its log-scaled share of the largest shown count.
HEAT_STYLES = (
    "black on #deebf7",
    "black on #9ecae1",
    "black on #6baed6",
    "white on #3182bd",
    "bold white on #08519c",
)
ZERO_STYLE = "dim"
TOTAL_STYLE = "bold"
# Wide enough that no realistic matrix wraps when written to a file or a pipe.
UNWRAPPED_WIDTH = 100_000
# A label cut to fit keeps at least this many characters ("@" + 6 + "…"): enough to
# tell most usernames apart; numbers are never cut.
MIN_LABEL_WIDTH = 8
# X usernames are at most 15 characters: with the "@", 16 shows every label whole.
READABLE_LABEL_WIDTH = 16
# Labels shortened only down to this to fit every author; below it, whole labels and
# fewer authors read better (a new user at 80 and 200 columns could not tell
# `@lae…nio` from `@Kit…ant`).
MIN_CAP_FOR_ALL = 12
# Whole labels as long as at least this many authors fit; on a narrower terminal,
# labels shortened to MIN_LABEL_WIDTH so that a few authors can still be shown.
MIN_READABLE_AUTHORS = 3
ELLIPSIS = "…"


class Format(StrEnum):
    """The output formats; each has one entry in RENDERERS."""

    table = "table"
    csv = "csv"
    json = "json"
    edges = "edges"
    gephi = "gephi"
    graphml = "graphml"


def _no_notes(matrix: Matrix) -> list[str]:
    return []


@dataclass(frozen=True)
class Options:
    """ids: label by id; width: the terminal's width (None: never cut); color: ANSI shades;
    notes: the lines the table ends with, given the matrix it shows (what was left out)."""

    ids: bool = False
    width: int | None = None
    color: bool = False
    notes: Callable[[Matrix], list[str]] = _no_notes


@dataclass(frozen=True)
class Renderer:
    """reads "matrix": render(Matrix, Options); reads "graph": render(Export, Options)."""

    reads: Literal["matrix", "graph"]
    render: Callable[..., Iterator[str]]
    help: str


# ---------------------------------------------------------------- the table


def heat_style(value: int, largest: int) -> str:
    """The style of a cell: dim for zero, else a shade by log(value) / log(largest)."""
    if value <= 0:
        return ZERO_STYLE
    if largest <= 1:
        return HEAT_STYLES[0]
    share = math.log(value) / math.log(largest)
    return HEAT_STYLES[min(int(share * len(HEAT_STYLES)), len(HEAT_STYLES) - 1)]


def shorten(label: str, width: int) -> str:
    """label cut to width characters around an ellipsis in the middle (usernames often
    differ only at the end: `@name_1`, `@name_2`); unchanged if it fits."""
    if len(label) <= width:
        return label
    head = max(width // 2, 1)
    tail = max(width - head - 1, 0)
    return label[:head] + ELLIPSIS + (label[-tail:] if tail else "")


def _build(matrix: Matrix, ids: bool, cap: int | None) -> Table:
    """Columns sized from the numbers they hold (an author's total is its widest number);
    labels longer than `cap` (None: no cap) are shortened to it, never below a number."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE, show_footer=True, show_edge=False, pad_edge=False)
    row_labels = [r.label(ids) for r in matrix.retweeters]
    row_width = max(map(len, row_labels), default=0)
    if cap is not None:
        row_width = min(row_width, max(cap, 2 * MIN_LABEL_WIDTH))
    table.add_column("", footer="total", style=TOTAL_STYLE, no_wrap=True, width=max(row_width, 5))
    largest = max(matrix.cells.values(), default=0)
    widths = []
    for author in matrix.authors:
        digits = len(str(author.total))
        label = author.label(ids)
        width = max(digits, len(label) if cap is None else min(len(label), cap))
        widths.append(width)
        table.add_column(
            shorten(label, width),
            footer=str(author.total),
            justify="right",
            no_wrap=True,
            width=width,
        )
    # Totals are whole rows and columns (within the filters), not just the cells shown.
    total_width = max((len(str(r.total)) for r in matrix.retweeters), default=0)
    table.add_column(
        "total", justify="right", style=TOTAL_STYLE, no_wrap=True, width=max(total_width, 5)
    )
    for i, retweeter in enumerate(matrix.retweeters):
        table.add_row(
            shorten(row_labels[i], row_width),
            # Padded to the column's width, so the shade fills the cell, not just the digits.
            *(
                Text(str(v).rjust(w), style=heat_style(v, largest))
                for v, w in zip(matrix.row(i), widths, strict=True)
            ),
            str(retweeter.total),
        )
    return table


def fit(matrix: Matrix, *, ids: bool = False, width: int | None = None) -> tuple[Matrix, Table]:
    """The matrix as a Table no wider than width, numbers never cut. In order of
    preference: everything whole; every author with labels shortened a little (down to
    MIN_CAP_FOR_ALL); as many authors as fit with whole labels (at least
    MIN_READABLE_AUTHORS); as many as fit with labels down to MIN_LABEL_WIDTH. The
    authors not shown count as left out. Widths only grow with the cap and the number
    of authors, so each step is a binary search of a few measurements."""
    from rich.console import Console
    from rich.measure import Measurement

    table = _build(matrix, ids, None)
    if width is None:
        return matrix, table
    console = Console(width=UNWRAPPED_WIDTH, file=io.StringIO())

    def fits(t: Table) -> bool:
        return Measurement.get(console, console.options, t).maximum <= width

    if fits(table):
        return matrix, table
    longest = max((len(p.label(ids)) for p in [*matrix.authors, *matrix.retweeters]), default=0)
    cap = _largest(MIN_CAP_FOR_ALL, longest, lambda c: fits(_build(matrix, ids, c)))
    if cap is not None:
        return matrix, _build(matrix, ids, cap)

    def authors_fitting(cap: int) -> int | None:
        return _largest(
            1, len(matrix.authors), lambda k: fits(_build(matrix.first_authors(k), ids, cap))
        )

    cap = READABLE_LABEL_WIDTH
    shown = authors_fitting(cap)
    if shown is None or shown < min(MIN_READABLE_AUTHORS, len(matrix.authors)):
        cap = MIN_LABEL_WIDTH
        shown = authors_fitting(cap)
    part = matrix.first_authors(shown or 1)
    return part, _build(part, ids, cap)


def _largest(low: int, high: int, ok: Callable[[int], bool]) -> int | None:
    """The largest n in [low, high] with ok(n), for ok true up to some n and false after."""
    found = None
    while low <= high:
        middle = (low + high) // 2
        if ok(middle):
            found, low = middle, middle + 1
        else:
            high = middle - 1
    return found


def build_table(matrix: Matrix, *, ids: bool = False) -> Table:
    """The matrix as a rich Table: retweeters down, authors across, totals last."""
    return _build(matrix, ids, None)


def table_text(
    matrix: Matrix, *, ids: bool = False, color: bool = False, width: int | None = None
) -> str:
    """The table as text: without colour codes unless asked, never wrapped unless a width is given."""
    return "".join(table_chunks(matrix, Options(ids=ids, width=width, color=color)))


def table_chunks(matrix: Matrix, options: Options) -> Iterator[str]:
    """The table (fitted to options.width), then its notes."""
    from rich.console import Console

    shown, table = fit(matrix, ids=options.ids, width=options.width)
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=options.width or UNWRAPPED_WIDTH,
        force_terminal=options.color,
        no_color=not options.color,
        color_system="truecolor" if options.color else None,
        highlight=False,
        emoji=False,
        legacy_windows=False,
    )
    console.print(table)
    yield "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())
    for line in options.notes(shown):
        yield line + "\n"


# ---------------------------------------------------------------- csv and json


def _csv_writer() -> Callable[[Iterable[object]], str]:
    """A function turning one row into one CSV line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(values: Iterable[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    return line


def csv_lines(matrix: Matrix, options: Options = Options()) -> Iterator[str]:
    """Header `retweeter,<author labels>`, then one line per retweeter; data only."""
    line = _csv_writer()
    yield line(["retweeter", *(author.label(options.ids) for author in matrix.authors)])
    for i, retweeter in enumerate(matrix.retweeters):
        yield line([retweeter.label(options.ids), *matrix.row(i)])


def json_chunks(matrix: Matrix, options: Options = Options()) -> Iterator[str]:
    """The JSON document, written a row at a time; the same bytes as json.dumps of the whole."""

    def people(persons: list[dict[str, int | str | None]]) -> str:
        return json.dumps(persons, ensure_ascii=False)

    authors = [{"id": str(p.id), "username": p.username, "total": p.total} for p in matrix.authors]
    retweeters = [
        {"id": str(p.id), "username": p.username, "total": p.total} for p in matrix.retweeters
    ]
    yield f'{{"authors": {people(authors)}, "retweeters": {people(retweeters)}, "counts": ['
    for i in range(len(matrix.retweeters)):
        yield (", " if i else "") + json.dumps(matrix.row(i))
    yield "]}\n"


# ---------------------------------------------------------------- the graph


def edges_lines(edges: Iterable[Edge]) -> Iterator[str]:
    """The long form networkx, Gephi and R read; an unknown username is an empty field."""
    line = _csv_writer()
    yield line(EDGES_HEADER)
    for edge in edges:
        yield line(
            (
                edge.retweeter_id,
                edge.retweeter_username or "",
                edge.author_id,
                edge.author_username or "",
                edge.count,
                *_times(edge),
            )
        )


def _edges(export: Export, options: Options) -> Iterator[str]:
    return edges_lines(export.edges())


def iso_time(moment: datetime | None) -> str:
    """An ISO 8601 time in UTC (`2024-05-01T12:00:00Z`); empty when unknown."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _times(edge: Edge) -> tuple[str, str]:
    return iso_time(edge.first_at), iso_time(edge.last_at)


def _label(user_id: int, username: str | None, ids: bool) -> str:
    return f"@{username}" if username and not ids else str(user_id)


def gephi_lines(export: Export, options: Options = Options()) -> Iterator[str]:
    """Gephi's edge table: retweeter (Source) -> author (Target), Weight = retweets."""
    line = _csv_writer()
    yield line(GEPHI_HEADER)
    for edge in export.edges():
        source = _label(edge.retweeter_id, edge.retweeter_username, options.ids)
        target = _label(edge.author_id, edge.author_username, options.ids)
        yield line(
            (
                edge.retweeter_id,
                edge.author_id,
                edge.count,
                f"{source} -> {target}",
                edge.retweeter_username or "",
                edge.author_username or "",
                *_times(edge),
            )
        )


GRAPHML_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns \
http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">
  <key id="kind" for="node" attr.name="kind" attr.type="string"/>
  <key id="label" for="node" attr.name="label" attr.type="string"/>
  <key id="user_id" for="node" attr.name="user_id" attr.type="string"/>
  <key id="total" for="node" attr.name="total" attr.type="long"/>
  <key id="weight" for="edge" attr.name="weight" attr.type="long"/>
  <key id="first_retweeted_at" for="edge" attr.name="first_retweeted_at" attr.type="string"/>
  <key id="last_retweeted_at" for="edge" attr.name="last_retweeted_at" attr.type="string"/>
  <graph id="retweets" edgedefault="directed">
"""
GRAPHML_TAIL = "  </graph>\n</graphml>\n"
# A user who is both an author and a retweeter is two nodes of the bipartite graph.
_NODE_PREFIX = {"author": "a", "retweeter": "r"}


def graphml_chunks(export: Export, options: Options = Options()) -> Iterator[str]:
    """A bipartite GraphML graph (node `kind` author|retweeter, `label`, `user_id`, `total`;
    edge retweeter -> author with `weight` and, where known, `first_retweeted_at` and
    `last_retweeted_at`), written as it streams: constant memory."""
    yield GRAPHML_HEAD
    for node in export.nodes():
        yield (
            f'    <node id="{_NODE_PREFIX[node.kind]}{node.id}">'
            f'<data key="kind">{node.kind}</data>'
            f'<data key="label">{escape(_label(node.id, node.username, options.ids))}</data>'
            f'<data key="user_id">{node.id}</data>'
            f'<data key="total">{node.total}</data></node>\n'
        )
    for edge in export.edges():
        times = "".join(
            f'<data key="{key}">{iso_time(moment)}</data>'
            for key, moment in zip(TIME_COLUMNS, (edge.first_at, edge.last_at), strict=True)
            if moment is not None
        )
        yield (
            f"    <edge source={quoteattr('r' + str(edge.retweeter_id))}"
            f" target={quoteattr('a' + str(edge.author_id))}>"
            f'<data key="weight">{edge.count}</data>{times}</edge>\n'
        )
    yield GRAPHML_TAIL


RENDERERS: dict[Format, Renderer] = {
    Format.table: Renderer("matrix", table_chunks, "a heatmap of the top authors and retweeters"),
    Format.csv: Renderer("matrix", csv_lines, "the same matrix as CSV"),
    Format.json: Renderer("matrix", json_chunks, "the same matrix as JSON"),
    Format.edges: Renderer("graph", _edges, "one CSV line per non-zero cell, never limited"),
    Format.gephi: Renderer("graph", gephi_lines, "edges CSV for Gephi's spreadsheet import"),
    Format.graphml: Renderer("graph", graphml_chunks, "a bipartite GraphML graph"),
}
assert set(RENDERERS) == set(Format), "every Format needs a renderer"
