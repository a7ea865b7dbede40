"""The default ranking (retweeters within the chosen authors) and the graph exports read back."""

from __future__ import annotations

import csv
import io
import random
import xml.etree.ElementTree as ET
from collections.abc import Callable

import networkx as nx
import psycopg
import pytest

from retweetctl import matrix as matrix_module
from retweetctl.database import Connection
from retweetctl.matrix import MatrixQuery, load_matrix
from tests import test_matrix
from tests.matrix_data import CELLS
from tests.test_matrix import Run

# The fixtures of the matrix tests, shared.
filled = test_matrix.filled
matrix_cli = test_matrix.matrix_cli

GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"


def random_cells(conn: Connection, seed: int) -> None:
    """Skewed random rows: a few heavy authors and retweeters, many who retweet once."""
    rng = random.Random(seed)
    rows = [
        (tweet, 1 + int(300 * rng.random() ** 3), 1 + int(40 * rng.random() ** 4))
        for tweet in range(1, 4001)
    ]
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO retweets (tweet_id, retweeter_id, author_id) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            rows,
        )
    conn.commit()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_ranking_within_the_authors_matches_a_full_sort(
    conn: Connection, monkeypatch: pytest.MonkeyPatch, seed: int, batch: int
) -> None:
    random_cells(conn, seed)
    monkeypatch.setattr("retweetctl.matrix.RANK_BATCH", batch)
    matrix = load_matrix(conn, MatrixQuery(top_authors=5, top_retweeters=12))
    authors = [a.id for a in matrix.authors]
    truth = conn.execute(
        "SELECT retweeter_id FROM retweets WHERE author_id = ANY(%s)"
        " GROUP BY retweeter_id"
        " ORDER BY count(*) DESC,"
        " (SELECT count(*) FROM retweets AS w WHERE w.retweeter_id = retweets.retweeter_id) DESC,"
        " retweeter_id LIMIT 12",
        (authors,),
    ).fetchall()
    conn.rollback()
    assert [r.id for r in matrix.retweeters] == [int(r[0]) for r in truth]
    # Every row shown retweeted at least one column shown.
    assert all(any(matrix.row(i)) for i in range(len(matrix.retweeters)))


def test_a_walk_that_does_not_settle_scans_the_cells_and_stays_exact(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    random_cells(conn, 4)
    settled = load_matrix(conn, MatrixQuery(top_authors=3, top_retweeters=5))
    scans: list[int | None] = []
    scan = matrix_module._ranked_within_by_scan

    def counted_scan(c: Connection, authors: list[int], limit: int | None) -> list[tuple[int, int]]:
        scans.append(limit)
        return scan(c, authors, limit)

    monkeypatch.setattr("retweetctl.matrix._ranked_within_by_scan", counted_scan)
    monkeypatch.setattr("retweetctl.matrix.RANK_BATCH", 2)
    monkeypatch.setattr("retweetctl.matrix.RANK_SCAN_LIMIT", 4)
    walked = load_matrix(conn, MatrixQuery(top_authors=3, top_retweeters=5))
    assert scans == [5]  # the walk gave up after 4 retweeters: the cells were scanned
    assert walked.retweeters == settled.retweeters and walked.cells == settled.cells
    # Every row shown retweeted at least one column shown: no row padded with zeros.
    assert all(any(walked.row(i)) for i in range(len(walked.retweeters)))


def test_the_default_view_has_no_empty_rows(filled: str, matrix_cli: Run) -> None:
    _, out, _ = matrix_cli("--top-authors", "2", "--top-retweeters", "3")
    rows = out.splitlines()[2:5]
    assert [r.split()[0] for r in rows] == ["@xavier", "@yolanda", "@zed"]
    assert all(any(int(n) for n in r.split()[1:3]) for r in rows)


def database_truth(url: str) -> tuple[dict[tuple[int, int], int], set[int], set[int]]:
    with psycopg.connect(url) as conn:
        cells = {
            (int(r), int(a)): int(n)
            for r, a, n in conn.execute(
                "SELECT retweeter_id, author_id, count(*) FROM retweets GROUP BY 1, 2"
            )
        }
    return cells, {a for _, a in cells}, {r for r, _ in cells}


def test_graphml_reads_into_networkx_with_the_database_counts(filled: str, matrix_cli: Run) -> None:
    code, out, err = matrix_cli("-f", "graphml")
    assert code == 0, err
    graph = nx.read_graphml(io.BytesIO(out.encode()))
    cells, authors, retweeters = database_truth(filled)
    assert graph.is_directed()
    assert graph.number_of_nodes() == len(authors) + len(retweeters)
    assert graph.number_of_edges() == len(cells)
    kinds = nx.get_node_attributes(graph, "kind")
    assert {n for n, k in kinds.items() if k == "author"} == {f"a{a}" for a in authors}
    assert {n for n, k in kinds.items() if k == "retweeter"} == {f"r{r}" for r in retweeters}
    for (r, a), n in cells.items():
        assert graph.edges[f"r{r}", f"a{a}"]["weight"] == n
    assert graph.nodes["a100"]["label"] == "@alice" and graph.nodes["a300"]["label"] == "300"
    assert graph.nodes["a100"]["total"] == sum(n for (_, a), n in cells.items() if a == 100)
    # Valid against the GraphML structure: one graph, nodes before edges.
    element = ET.fromstring(out).find(f"{GRAPHML}graph")
    assert element is not None
    tags = [child.tag.removeprefix(GRAPHML) for child in element]
    assert tags == sorted(tags, key=lambda t: t != "node")


def test_gephi_reads_into_networkx_with_the_database_counts(filled: str, matrix_cli: Run) -> None:
    code, out, err = matrix_cli("-f", "gephi")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "Source",
        "Target",
        "Weight",
        "Label",
        "source_username",
        "target_username",
        "first_retweeted_at",
        "last_retweeted_at",
    ]
    assert "type" not in (k.lower() for k in rows[0])
    graph = nx.from_edgelist(
        ((int(r["Source"]), int(r["Target"]), {"weight": int(r["Weight"])}) for r in rows),
        create_using=nx.DiGraph,
    )
    cells, authors, retweeters = database_truth(filled)
    assert graph.number_of_edges() == len(cells)
    assert graph.number_of_nodes() == len(authors | retweeters)
    assert {(r, a): d["weight"] for r, a, d in graph.edges(data=True)} == cells
    assert next(r for r in rows if r["Source"] == "11" and r["Target"] == "100")["Label"] == (
        "@xavier -> @alice"
    )


def test_graph_exports_keep_the_filters(filled: str, matrix_cli: Run) -> None:
    keep: Callable[[int, int, int], bool] = lambda r, a, n: a in (200, 300) and n >= 2  # noqa: E731
    expected = {k: n for k, n in CELLS.items() if keep(*k, n)}
    _, out, _ = matrix_cli(
        "-f", "graphml", "--author", "@bob", "--author", "300", "--min-count", "2"
    )
    graph = nx.read_graphml(io.BytesIO(out.encode()))
    assert {(int(r[1:]), int(a[1:])) for r, a in graph.edges} == set(expected)
    assert graph.number_of_nodes() == len({a for _, a in expected} | {r for r, _ in expected})


def test_empty_graphml_is_a_valid_empty_graph(db_url: str, matrix_cli: Run) -> None:
    code, out, err = matrix_cli("-f", "graphml")
    assert code == 0 and err.startswith("no retweets stored yet")
    graph = nx.read_graphml(io.BytesIO(out.encode()))
    assert graph.number_of_nodes() == 0


def test_graph_nodes_are_streamed(filled: str, conn: Connection) -> None:
    from retweetctl.matrix import open_export

    with open_export(conn, MatrixQuery()) as export:
        nodes = export.nodes()
        next(nodes)
        names = conn.execute("SELECT name FROM pg_cursors").fetchall()
        assert ("retweetctl_graph_authors",) in names
        assert len(list(nodes)) == len({a for _, a in CELLS} | {r for r, _ in CELLS}) - 1
