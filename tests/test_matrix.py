"""`retweetctl matrix`: every format byte-for-byte against golden files, filters, cuts, errors."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from retweetctl.cli import run
from retweetctl.database import Connection
from retweetctl.errors import ExitCode
from retweetctl.matrix import Matrix, MatrixQuery, Person, edges, load_matrix
from retweetctl.report import HEAT_STYLES, ZERO_STYLE, heat_style, table_text
from tests.conftest import INHERITED_SETTING_PREFIXES
from tests.matrix_data import CELLS, fill

GOLDEN = Path(__file__).resolve().parent / "data" / "matrix"
# UPDATE_GOLDEN=1 rewrites the golden files from the current output (review the diff!).
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def matrix_cli(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Run:
    """run(*args) -> (exit code, stdout, stderr), in-process against the test database."""
    for key in list(os.environ):
        if key.startswith(INHERITED_SETTING_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RETWEETCTL_DATABASE_URL", db_url)
    monkeypatch.setenv("RETWEETCTL_HOME", str(tmp_path / "home"))

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(["matrix", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def filled(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        fill(conn)
    return db_url


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"output differs from {path}"


GOLDEN_CASES = [
    ("table.txt", []),
    ("table_ids.txt", ["--ids"]),
    ("table_cut.txt", ["--top-authors", "2", "--top-retweeters", "3"]),
    ("table_min_count.txt", ["--min-count", "2"]),
    (
        "table_filters.txt",
        ["--author", "@Alice", "--author", "200", "--retweeter", "12", "--retweeter", "@zed"],
    ),
    ("matrix.csv", ["--format", "csv"]),
    ("matrix_ids.csv", ["--format", "csv", "--ids"]),
    ("matrix_cut.csv", ["-f", "csv", "--top-authors", "1", "--top-retweeters", "2"]),
    ("matrix.json", ["--format", "json"]),
    ("matrix_filters.json", ["--format", "json", "--retweeter", "@xavier", "--retweeter", "16"]),
    ("edges.csv", ["--format", "edges"]),
    (
        "edges_filtered.csv",
        ["--format", "edges", "--min-count", "2", "--author", "@bob", "--author", "300"],
    ),
]


@pytest.mark.parametrize(("name", "args"), GOLDEN_CASES, ids=[c[0] for c in GOLDEN_CASES])
def test_formats_match_golden_files(
    filled: str, matrix_cli: Run, name: str, args: list[str]
) -> None:
    code, out, err = matrix_cli(*args)
    assert code == ExitCode.OK, err
    golden(name, out)
    assert "\x1b" not in out


def test_table_is_ordered_by_total_then_id(filled: str, matrix_cli: Run) -> None:
    _, out, _ = matrix_cli()
    rows = [line.split()[0] for line in out.splitlines()[2:8]]
    # xavier and yolanda tie at 21 (ids 11 < 12); 13 and 15 tie at 1.
    assert rows == ["@xavier", "@yolanda", "16", "@zed", "13", "15"]
    header = out.splitlines()[0].split()
    # alice (100) and 300 tie at 18: by id.
    assert header == ["@bob", "@alice", "300", "total"]


def test_cuts_say_how_many_were_left_out(filled: str, matrix_cli: Run) -> None:
    _, out, _ = matrix_cli("--top-authors", "2", "--top-retweeters", "3")
    assert out.endswith(
        "1 author left out, use --top-authors 3, or --format edges to see them\n"
        "3 retweeters left out, use --top-retweeters 6, or --format edges to see them\n"
    )
    code, out, err = matrix_cli("-f", "csv", "--top-authors", "1", "--top-retweeters", "2")
    assert code == 0
    assert "left out" not in out
    assert "2 authors left out, use --top-authors 3 or --all to see them" in err
    assert "4 retweeters left out, use --top-retweeters 6 or --all to see them" in err


def test_all_says_how_many_cells_before_writing(filled: str, matrix_cli: Run) -> None:
    code, out, err = matrix_cli("-f", "csv", "--all", "--top-authors", "1")
    assert code == 0
    assert err == "writing 6 retweeters x 3 authors = 18 cells\n"
    assert out == (GOLDEN / "matrix.csv").read_text()


def test_counts_left_out_have_separators_and_options_stay_typeable(filled: str) -> None:
    from retweetctl.commands import matrix as command

    with psycopg.connect(filled) as conn:
        shown = load_matrix(conn, MatrixQuery())  # 3 authors, 6 retweeters
    cut = dataclasses.replace(shown, authors_left_out=38_349, retweeters_left_out=69_990)
    lines = command._left_out(cut, how="{option} {everyone} or --all")
    assert lines[0].startswith("38,349 authors left out, use --top-authors 38352 or --all")
    assert lines[1].startswith("69,990 retweeters left out, use --top-retweeters 69996 or --all")


def test_all_refuses_a_dense_matrix_too_big_to_be_useful(
    filled: str, matrix_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retweetctl.commands import matrix as command

    monkeypatch.setattr(command, "DENSE_CELLS_MAX", 17)  # the filled data has 6 x 3 = 18
    code, out, err = matrix_cli("-f", "csv", "--all")
    assert (code, out) == (ExitCode.USAGE, "")
    assert err == (
        "retweetctl: error: --all would write 18 cells (6 retweeters x 3 authors), nearly all"
        " zeros: use --format edges (one line per retweeter-author pair), or fewer with"
        " --top-authors/--top-retweeters\n"
    )
    monkeypatch.setattr(command, "DENSE_CELLS_MAX", 18)
    assert matrix_cli("-f", "csv", "--all")[0] == 0


def test_all_with_a_table_is_a_usage_error(filled: str, matrix_cli: Run) -> None:
    code, _, err = matrix_cli("--all")
    assert code == ExitCode.USAGE
    assert "--all applies to --format csv and json" in err


def test_json_has_string_ids_and_counts_by_retweeter_then_author(
    filled: str, matrix_cli: Run
) -> None:
    _, out, _ = matrix_cli("-f", "json")
    document = json.loads(out)
    authors = [a["id"] for a in document["authors"]]
    retweeters = [r["id"] for r in document["retweeters"]]
    assert all(isinstance(i, str) for i in authors + retweeters)
    assert document["authors"][2] == {"id": "300", "username": None, "total": 18}
    for i, retweeter in enumerate(retweeters):
        for j, author in enumerate(authors):
            assert document["counts"][i][j] == CELLS.get((int(retweeter), int(author)), 0)
    # Streamed in pieces, yet the same bytes as one json.dumps.
    assert out == json.dumps(document) + "\n"


def test_output_file_gets_exactly_what_stdout_would(
    filled: str, matrix_cli: Run, tmp_path: Path
) -> None:
    for name, args in (
        ("table.txt", []),
        ("matrix.json", ["-f", "json"]),
        ("edges.csv", ["-f", "edges"]),
    ):
        target = tmp_path / f"out-{name}"
        code, out, _ = matrix_cli(*args, "--output", str(target))
        assert (code, out) == (0, "")
        assert target.read_text() == (GOLDEN / name).read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_output_into_a_missing_directory_is_exit_2(
    filled: str, matrix_cli: Run, tmp_path: Path
) -> None:
    code, _, err = matrix_cli("--output", str(tmp_path / "no" / "such.txt"))
    assert code == ExitCode.USAGE
    assert err.startswith("retweetctl: error: cannot write") and err.count("\n") == 1


def test_unknown_username_is_exit_2_naming_it(filled: str, matrix_cli: Run) -> None:
    code, out, err = matrix_cli("--author", "@alice", "--retweeter", "@ghost")
    assert code == ExitCode.USAGE
    assert out == ""
    assert err.startswith("retweetctl: error: unknown user @ghost") and err.count("\n") == 1


@pytest.mark.parametrize("bad", ["0", "-3", "12x", "99999999999999999999", "@", "@no-dash"])
def test_bad_user_is_exit_2_naming_it(filled: str, matrix_cli: Run, bad: str) -> None:
    code, _, err = matrix_cli(f"--author={bad}")
    assert code == ExitCode.USAGE
    assert repr(bad) in err and err.count("\n") == 1


def test_empty_database_is_a_friendly_line(db_url: str, matrix_cli: Run) -> None:
    code, out, err = matrix_cli()
    assert (code, err) == (0, "")
    assert out == "no retweets stored yet: add some with `retweetctl fetch` or `retweetctl load`\n"
    for fmt, empty in (
        ("csv", "retweeter\n"),
        ("json", '{"authors": [], "retweeters": [], "counts": []}\n'),
        (
            "edges",
            "retweeter_id,retweeter_username,author_id,author_username,count,first_retweeted_at,last_retweeted_at\n",
        ),
        (
            "gephi",
            "Source,Target,Weight,Label,source_username,target_username,first_retweeted_at,last_retweeted_at\n",
        ),
    ):
        code, out, err = matrix_cli("-f", fmt)
        assert (code, out) == (0, empty), fmt
        assert err.startswith("no retweets stored yet")
    assert json.loads(matrix_cli("-f", "json")[1]) == {
        "authors": [],
        "retweeters": [],
        "counts": [],
    }


def test_filters_that_keep_nothing_give_valid_empty_data(filled: str, matrix_cli: Run) -> None:
    code, out, err = matrix_cli("-f", "json", "--author", "@nobody")
    assert code == 0 and err == "no retweets match the filters\n"
    assert json.loads(out) == {"authors": [], "retweeters": [], "counts": []}
    code, out, err = matrix_cli("-f", "edges", "--min-count", "100")
    assert (code, out) == (
        0,
        "retweeter_id,retweeter_username,author_id,author_username,count,first_retweeted_at,last_retweeted_at\n",
    )
    assert err == "no retweets match the filters\n"


def test_filters_that_keep_nothing(filled: str, matrix_cli: Run) -> None:
    code, out, _ = matrix_cli("--author", "@nobody")
    assert (code, out) == (0, "no retweets match the filters\n")
    code, out, _ = matrix_cli("--min-count", "100")
    assert (code, out) == (0, "no retweets match the filters\n")


def test_bad_numbers_are_usage_errors(filled: str, matrix_cli: Run) -> None:
    for args in (["--top-authors", "0"], ["--min-count", "0"], ["--format", "xml"]):
        code, _, _ = matrix_cli(*args)
        assert code == ExitCode.USAGE, args


def test_table_without_a_terminal_has_no_colour(filled: str, cli) -> None:  # type: ignore[no-untyped-def]
    result = cli(["matrix"], TERM="xterm-256color", FORCE_COLOR=None)
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert result.stdout == (GOLDEN / "table.txt").read_text()


def test_the_heatmap_shades_by_value(filled: str, conn: Connection) -> None:
    assert heat_style(0, 16) == ZERO_STYLE
    assert heat_style(1, 16) == HEAT_STYLES[0]
    assert heat_style(16, 16) == HEAT_STYLES[-1]
    assert heat_style(4, 16) not in (HEAT_STYLES[0], HEAT_STYLES[-1])
    coloured = table_text(load_matrix(conn, MatrixQuery()), color=True)
    assert re.search(r"\x1b\[2m *0\x1b\[0m", coloured)  # zero cells dim
    assert re.search(r"48;2;8;81;156m *16\x1b", coloured)  # the largest count, darkest shade


def test_the_heat_ramp_is_one_hue_from_light_to_dark() -> None:
    from rich.color import Color

    backgrounds = [Color.parse(style.split(" on ")[1]).get_truecolor() for style in HEAT_STYLES]
    lightness = [0.299 * c.red + 0.587 * c.green + 0.114 * c.blue for c in backgrounds]
    assert lightness == sorted(lightness, reverse=True)  # each shade darker than the last
    assert all(c.blue >= c.green >= c.red for c in backgrounds)  # all blues: no orange end


def test_labels() -> None:
    assert Person(5, "bob", 1).label() == "@bob"
    assert Person(5, "bob", 1).label(ids=True) == "5"
    assert Person(5, None, 1).label() == "5"


def test_matrix_reads_follow_new_merges(filled: str, conn: Connection) -> None:
    from retweetctl.ingest import merge_rows

    before = load_matrix(conn, MatrixQuery())
    merge_rows(conn, [(999_001, 15, 100), (999_002, 15, 100), (100_000, 11, 100)])  # one repeat
    conn.commit()
    after = load_matrix(conn, MatrixQuery())
    assert isinstance(before, Matrix) and isinstance(after, Matrix)
    alice = [p.id for p in after.authors].index(100)
    row_15 = [p.id for p in after.retweeters].index(15)
    assert after.count(row_15, alice) == 3
    assert after.authors[alice].total == 20


def test_edges_stream_through_a_server_side_cursor(
    filled: str, conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("retweetctl.matrix.EDGES_FETCH_ROWS", 2)
    stream: Iterator[object] = edges(conn, MatrixQuery())
    first = next(stream)
    cursors = conn.execute(
        "SELECT count(*) FROM pg_cursors WHERE name = 'retweetctl_edges'"
    ).fetchone()
    assert cursors == (1,)
    rest = list(stream)
    assert len(rest) + 1 == len(CELLS)
    assert first is not None


def test_filters_apply_before_the_cut(filled: str, matrix_cli: Run) -> None:
    code, out, _ = matrix_cli("--min-count", "2", "--top-retweeters", "1", "--top-authors", "2")
    assert code == 0
    lines = out.splitlines()
    # Three retweeters keep a cell of 2 or more; the cut keeps the first by total.
    assert lines[2].split() == ["@xavier", "16", "5", "21"]
    assert lines[-2:] == [
        "1 author left out, use --top-authors 3, or --format edges to see them",
        "2 retweeters left out, use --top-retweeters 3, or --format edges to see them",
    ]


def test_a_table_of_a_large_archive_points_to_the_edges_not_to_huge_options() -> None:
    from retweetctl.commands.matrix import TABLE_EVERYONE_MAX, _table_notes

    people = [Person(i, f"u{i}", 1) for i in range(1, 4)]
    large = Matrix(authors=people, retweeters=people, authors_left_out=76_419,
                   retweeters_left_out=139_553)  # fmt: skip
    assert _table_notes(large) == [
        "76,419 authors left out (--format edges gives every cell)",
        "139,553 retweeters left out (--format edges gives every cell)",
    ]
    assert all(len(line) <= 78 for line in _table_notes(large))  # one line at 80 columns
    small = Matrix(authors=people, retweeters=people, authors_left_out=1,
                   retweeters_left_out=TABLE_EVERYONE_MAX - 3)  # fmt: skip
    assert _table_notes(small) == [
        "1 author left out, use --top-authors 4, or --format edges to see them",
        f"{TABLE_EVERYONE_MAX - 3} retweeters left out, use --top-retweeters"
        f" {TABLE_EVERYONE_MAX}, or --format edges to see them",
    ]
