"""Every command unchanged against a Citus coordinator: same counts and outputs as one PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from retweetctl.embedded import EmbeddedServer
from retweetctl.errors import ExitCode
from tests.citus.cluster import TEST_SHARD_COUNT, CitusCluster
from tests.conftest import TEMPLATE_DATABASE, CliResult, run_cli, scratch_database, user_env

TWARC = Path(__file__).resolve().parents[1] / "data" / "twarc"
CAPTURES = sorted(TWARC.glob("*.jsonl"))
FORMATS = (
    ["--format", "table"],
    ["--format", "csv", "--all"],
    ["--format", "json", "--all"],
    ["--format", "edges"],
)
Cli = Callable[..., CliResult]


def rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def load_all(env: dict[str, str]) -> list[tuple[int, int]]:
    """Load every twarc capture, each twice; (seen, added) per file."""
    result = run_cli(["load", "--json", *map(str, CAPTURES), *map(str, CAPTURES)], env)
    assert result.exit_code == ExitCode.OK, result.stderr
    return [(f["seen"], f["added"]) for f in json.loads(result.stdout)["files"]]


def test_a_new_database_is_distributed_by_tweet_id_and_status_says_so(
    cli: Cli, db_url: str
) -> None:
    status = cli(["db", "status"])
    assert status.exit_code == 0, status.stderr
    assert (
        f"Citus 14.0-1: 2 active worker(s); retweets: {TEST_SHARD_COUNT} shards"
        in status.stdout.splitlines()
    )
    # pg_catalog, not the citus_tables view: that one lives in public, off a schema-only search_path.
    tables = rows(
        db_url,
        "SELECT c.relname::text, p.partmethod::text,"
        " pg_catalog.column_to_column_name(p.logicalrelid, p.partkey), p.colocationid"
        " FROM pg_catalog.pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid ORDER BY 1",
    )
    assert [t[:3] for t in tables] == [
        ("retweet_cell_deltas", "h", "tweet_id"),
        ("retweet_staging", "h", "tweet_id"),
        ("retweets", "h", "tweet_id"),
    ]
    assert len({t[3] for t in tables}) == 1  # co-located: one merge is shard-local
    triggers = rows(
        db_url,
        "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE c.relname = 'retweets' AND NOT t.tgisinternal",
    )
    assert triggers == [(0,)]
    again = cli(["db", "distribute"])
    assert (again.exit_code, again.stdout) == (0, "already distributed: nothing to do\n")


def test_load_and_matrix_give_what_one_postgresql_gives(
    cli_env: dict[str, str], db_url: str, pg_server: EmbeddedServer
) -> None:
    with scratch_database(pg_server, "single", TEMPLATE_DATABASE) as single_url:
        single_env = {**cli_env, "RETWEETCTL_DATABASE_URL": single_url}
        single_counts = load_all(single_env)
        single_out = {" ".join(f): run_cli(["matrix", *f], single_env) for f in FORMATS}
    citus_counts = load_all(cli_env)
    assert citus_counts == single_counts
    assert (
        sum(added for _, added in citus_counts)
        == rows(db_url, "SELECT count(*) FROM retweets")[0][0]
    )
    assert all(added == 0 for _, added in citus_counts[len(CAPTURES) :])  # the second pass
    for name, single in single_out.items():
        result = run_cli(["matrix", *name.split()], cli_env)
        assert (result.exit_code, result.stdout, result.stderr) == (
            single.exit_code,
            single.stdout,
            single.stderr,
        ), name
    edges = run_cli(["matrix", "--format", "edges", "--ids"], cli_env)
    reader = csv.reader(io.StringIO(edges.stdout))
    header = next(reader)
    shown = {(int(r[0]), int(r[2]), int(r[-1])) for r in reader}
    truth = set(
        rows(db_url, "SELECT retweeter_id, author_id, count(*) FROM retweets GROUP BY 1, 2")
    )
    assert header and shown == truth
    check = run_cli(["db", "check"], cli_env)
    assert check.exit_code == 0 and check.stdout.startswith("aggregate matches retweets: "), check


def test_strict_load_counts_exactly_across_savepoints(cli: Cli, db_url: str) -> None:
    result = cli(["load", "--strict", "--json", *map(str, CAPTURES[:4])])
    assert result.exit_code == 0, result.stderr
    added = json.loads(result.stdout)["total"]["added"]
    assert added == rows(db_url, "SELECT count(*) FROM retweets")[0][0] > 0
    assert rows(db_url, "SELECT sum(n) FROM retweet_cell_deltas") == [(added,)]
    assert cli(["db", "check"]).exit_code == 0


def test_db_distribute_moves_an_existing_single_node_database(
    citus_cluster: CitusCluster, tmp_path: Path
) -> None:
    name = f"undistributed_{tmp_path.name[-20:]}".replace("-", "_")
    coordinator = citus_cluster.coordinator
    with psycopg.connect(coordinator.url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env = user_env(
        RETWEETCTL_DATABASE_URL=coordinator.url(name), RETWEETCTL_HOME=str(tmp_path / "h")
    )
    try:
        first = run_cli(["load", "--json", *map(str, CAPTURES[:6])], env)
        assert first.exit_code == 0, first.stderr
        stored = rows(coordinator.url(name), "SELECT count(*) FROM retweets")[0][0]
        not_citus = run_cli(["db", "distribute"], env)
        assert not_citus.exit_code == ExitCode.CONFIG
        assert not_citus.stderr.startswith(
            "retweetctl: error: this database has no citus extension"
        )
        citus_cluster.add_citus(name)
        status = run_cli(["db", "status"], env)
        assert (
            "Citus 14.0-1: 2 active worker(s); retweets: not distributed"
            " (run `retweetctl db distribute`)"
        ) in status.stdout.splitlines(), status
        moved = run_cli(["db", "distribute"], env)
        assert moved.exit_code == 0, moved.stderr
        lines = moved.stdout.splitlines()
        assert re.fullmatch(
            r"dropped [1-9]\d* trigger\(s\) on retweets: the merge appends the aggregate's deltas",
            lines[0],
        ), lines
        assert lines[1:] == [
            "distributed retweets by tweet_id",
            "distributed retweet_staging by tweet_id",
            "distributed retweet_cell_deltas by tweet_id",
        ]
        assert run_cli(["db", "distribute"], env).stdout == "already distributed: nothing to do\n"
        url = coordinator.url(name)
        assert rows(url, "SELECT count(*) FROM retweets") == [(stored,)]
        rest = run_cli(["load", "--json", *map(str, CAPTURES)], env)
        assert rest.exit_code == 0, rest.stderr
        added = json.loads(rest.stdout)["total"]["added"]
        assert rows(url, "SELECT count(*) FROM retweets") == [(stored + added,)]
        check = run_cli(["db", "check"], env)
        assert check.exit_code == 0, check.stdout + check.stderr
    finally:
        citus_cluster.drop_database(name)


@pytest.mark.parametrize("fmt", [" ".join(f) for f in FORMATS])
def test_matrix_on_an_empty_cluster_database(cli: Cli, fmt: str) -> None:
    result = cli(["matrix", *fmt.split()])
    assert result.exit_code == 0, result.stderr
