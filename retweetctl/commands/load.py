"""`retweetctl load`: bring retweets collected by other tools (twarc2, CSV) into the table."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retweetctl.background_catch_up import APPLICATION_NAME as CATCH_UP_APPLICATION_NAME
from retweetctl.background_catch_up import BackgroundCatchUp
from retweetctl.commands.catching_up import catch_up_telling
from retweetctl.commands.common import state, stderr_console, stdout_console, warn
from retweetctl.database import Connection, connect
from retweetctl.load import (
    LoadAborted,
    LoadInterrupted,
    LoadOptions,
    LoadReport,
    LoadResult,
    load_files,
)
from retweetctl.readers import Format, parse_id

# --format's choices: auto (detect each input), then every format readers.READERS reads.
FormatChoice = Enum(  # type: ignore[misc]
    "FormatChoice", [("AUTO", "auto"), *((fmt.name, fmt.value) for fmt in Format)]
)

if TYPE_CHECKING:
    from retweetctl.commands.load_progress import LoadProgress


def command(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Argument(metavar="FILE…", help="Files to load; '-' reads standard input."),
    ],
    format: Annotated[
        FormatChoice,
        typer.Option(
            "--format",
            help="auto (JSONL if a file starts with '{', else CSV), twarc (JSONL) or csv.",
        ),
    ] = FormatChoice.AUTO,  # type: ignore[attr-defined]
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            help="Write rejected lines here (default: <input name>.rejects.jsonl in the current directory).",
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Stop at the first bad line and load nothing (exit 65)."),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    author: Annotated[
        str | None,
        typer.Option(
            "--author",
            metavar="ID|@NAME",
            help="Author (id, or @username already stored) of the tweet(s) in retweeted_by pages, "
            "when it is not already known.",
        ),
    ] = None,
) -> None:
    """Load retweets from twarc2 / X API v2 JSONL or CSV files (tweet_id,retweeter_id,author_id)."""
    forced = None if format.value == "auto" else Format(format.value)
    author_id = None
    if author is not None and not author.strip().startswith("@"):
        try:
            author_id = parse_id(author, "--author")
        except Exception as exc:
            raise typer.BadParameter(str(exc.args[-1]), param_hint="--author") from None
    # --debug: its log lines tell the progress; a live bar would be written over them
    show_progress = not quiet and not as_json and not state(ctx).debug and sys.stderr.isatty()
    if "-" in files and sys.stdin.isatty() and not quiet:
        warn("reading standard input: paste or type JSONL or CSV lines, then Ctrl-D")
    with state(ctx).connect() as conn:
        if author is not None and author_id is None:  # @name, as matrix --author takes it
            from retweetctl.matrix import resolve_users

            (author_id,) = resolve_users(conn, [author])
        options = LoadOptions(format=forced, strict=strict, author=author_id, rejects=rejects)
        aborted: LoadAborted | None = None
        # Each committed file but the last is folded into the matrix on a second
        # connection while the next one loads (see retweetctl/background_catch_up.py).
        try:
            with (
                _progress(show_progress) as bar,
                BackgroundCatchUp(lambda: _catch_up_connection(ctx)) as behind,
            ):
                try:
                    report = load_files(
                        conn,
                        files,
                        options,
                        progress=bar.for_file if bar is not None else None,
                        on_merge=bar.merging if bar is not None else None,
                        on_retry=None if quiet else warn,
                        on_committed=lambda _name: behind.poke(),
                    )
                except LoadAborted as stopped:
                    aborted = stopped
        except LoadInterrupted as stopped:  # said after the bar is gone; still exit 130
            if not quiet:
                _say_interrupted(stopped.report, len(files), as_json, strict)
            raise
        if aborted is not None:  # said after the bar is gone, so it starts a line of its own
            if not quiet:
                _print_report(aborted.report, as_json, error=aborted.message, inputs=len(files))
            raise aborted.cause from None
        # Fold the new rows into the matrix aggregate now, in its own transaction (the
        # rows are committed already), so the next `matrix` has nothing to wait for.
        try:
            catch_up_telling(conn, quiet=quiet)
        except KeyboardInterrupt:
            if not quiet:  # the fold rolled back; its deltas wait for the next one
                _print_report(report, as_json)
                stored = "the file is" if len(files) == 1 else f"all {len(files):,} files are"
                warn(f"interrupted: {stored} stored; the matrix catches up when it next runs")
            raise
    if not quiet:
        _print_report(report, as_json)


def _say_interrupted(report: LoadReport, inputs: int, as_json: bool, strict: bool) -> None:
    """When Ctrl-C stopped a run of several files, or one that had stored some: the summary
    of those stored, and one line saying where to take it up again. One file that was
    rolled back: nothing to explain, as for any Ctrl-C."""
    kept = report.committed
    if not kept and inputs == 1:
        return
    if kept:
        _print_report(LoadReport(files=kept), as_json)
    text = f"interrupted: {len(kept):,} of {inputs:,} files stored"
    if kept:
        text += f" (up to {kept[-1].input})"
    in_flight = [r.input for r in report.files if not r.committed]
    if strict:
        text += "; --strict: every file rolled back"
    elif in_flight:
        text += f"; {in_flight[-1]} rolled back, nothing of it stored"
    warn(text)


def _catch_up_connection(ctx: typer.Context) -> Connection:
    return connect(state(ctx).settings(), application_name=CATCH_UP_APPLICATION_NAME)


@contextmanager
def _progress(enabled: bool) -> Iterator[LoadProgress | None]:
    """The run's progress bar on stderr, only on a terminal."""
    if not enabled:
        yield None
        return
    # imported here: a tenth of a second of startup that scripts and cron never need
    from retweetctl.commands.load_progress import LoadProgress

    with LoadProgress(stderr_console) as bar:
        yield bar


def _reasons(counts: Counter[str]) -> str:
    return ", ".join(f"{reason} ({count:,})" for reason, count in sorted(counts.items()))


def _line(result: LoadResult) -> str:
    if result.note is not None:
        return f"{result.input}: {result.note}"
    text = f"{result.input}: {result.added:,} of {result.seen:,} records added"
    if result.users:
        text += f"; {result.users:,} user{'' if result.users == 1 else 's'} named"
    if not result.committed:
        text += " (rolled back)"
    return text


def _print_report(
    report: LoadReport, as_json: bool, error: str | None = None, inputs: int = 1
) -> None:
    if as_json:
        total = report.total()
        payload = {
            # The same top-level counts as `fetch --json`: rows offered, rows new.
            "seen": total.seen,
            "added": total.added,
            "files": [result.as_dict() for result in report.files],
            "total": total.as_dict(),
            "error": error,
        }
        print(json.dumps(payload, indent=2))
        return
    if error is not None and not report.files and inputs == 1:
        return  # its one input failed the checks: the error line says it all
    out = stdout_console
    for result in report.files:
        out.print(_line(result), markup=False, highlight=False)
        if result.from_mention:
            out.print(
                f"  attributed from the retweet text: {result.from_mention:,}",
                markup=False,
                highlight=False,
            )
        if result.skipped:
            out.print(
                f"  skipped {sum(result.skipped.values()):,}: {_reasons(result.skipped)}",
                markup=False,
                highlight=False,
            )
        if result.rejected:
            out.print(
                f"  rejected {sum(result.rejected.values()):,}: {_reasons(result.rejected)}"
                f" -> {result.rejects_file}",
                markup=False,
                highlight=False,
            )
    total = report.total()
    if len(report.files) > 1 or error is not None:
        committed = [r.input for r in report.committed]
        text = (
            f"total: {total.added:,} of {total.seen:,} records added from {len(committed)} file(s)"
        )
        if error is not None:  # the run stopped: say exactly which files are in the table
            text = text.replace(" file(s)", " committed file(s)")
            text += f": {', '.join(committed)}" if committed else "; nothing was loaded"
        out.print(text, markup=False, highlight=False)
