"""A shared PostgreSQL: own schema, an installation moved from `public`, least-privilege roles."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from retweetctl.embedded import EmbeddedServer
from retweetctl.errors import ExitCode
from retweetctl.ingest import merge_rows
from retweetctl.migrations import available_migrations, migrate
from tests.conftest import run_cli, scratch_database, user_env

TWARC = Path(__file__).resolve().parent / "data" / "twarc"
_roles = itertools.count()


@pytest.fixture
def shared_db(pg_server: EmbeddedServer) -> Iterator[str]:
    """An empty database whose `public` already holds another application's `users` table."""
    with scratch_database(pg_server, "shared", None) as url:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("CREATE TABLE public.users (login text PRIMARY KEY, shoe_size int)")
            admin.execute("INSERT INTO public.users VALUES ('alice', 38)")
            # PostgreSQL >= 15 already denies it; say it for older servers too.
            admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        yield url


@pytest.fixture
def role(shared_db: str, pg_server: EmbeddedServer) -> Iterator[str]:
    """A login role with no right on `public` beyond the default; dropped afterwards."""
    name = f"rtc_role_{os.getpid()}_{next(_roles)}"
    with psycopg.connect(pg_server.url("postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN")
    yield name
    with psycopg.connect(shared_db, autocommit=True) as admin:
        admin.execute(f"DROP OWNED BY {name} CASCADE")
    with psycopg.connect(pg_server.url("postgres"), autocommit=True) as admin:
        admin.execute(f"DROP ROLE {name}")


def as_role(url: str, role: str) -> str:
    return make_conninfo(url, user=role)


def grant(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(statement)


def cli_as(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = user_env(RETWEETCTL_DATABASE_URL=url, RETWEETCTL_HOME=str(tmp_path / "home"))
    result = run_cli(list(args), env)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def test_role_with_create_on_database_gets_its_own_schema_beside_a_foreign_users_table(
    shared_db: str, role: str, tmp_path: Path, pg_server: EmbeddedServer
) -> None:
    database = psycopg.conninfo.conninfo_to_dict(shared_db)["dbname"]
    grant(shared_db, f'GRANT CREATE ON DATABASE "{database}" TO {role}')
    url = as_role(shared_db, role)
    loaded = cli_as(url, tmp_path, "load", str(TWARC / "brexit.jsonl"))
    assert loaded.returncode == ExitCode.OK, loaded.stderr
    with psycopg.connect(shared_db) as admin:
        assert admin.execute("SELECT * FROM public.users").fetchall() == [("alice", 38)]
        stored = admin.execute("SELECT count(*) FROM retweetctl.retweets").fetchone()
        named = admin.execute("SELECT count(*) FROM retweetctl.users").fetchone()
        in_public = admin.execute("SELECT to_regclass('public.retweets')").fetchone()
    assert stored is not None and stored[0] > 0
    assert named is not None and named[0] > 0
    assert in_public == (None,)
    # Users' own SQL, unqualified, through the string `db url` prints.
    printed = cli_as(url, tmp_path, "db", "url")
    assert printed.returncode == ExitCode.OK, printed.stderr
    psql = pg_server.bindir / "psql"
    counted = subprocess.run(
        [str(psql), printed.stdout.strip(), "-At", "-c", "select count(*) from retweets"],
        capture_output=True,
        text=True,
        env=user_env(),
        check=False,
        timeout=60,
    )
    assert counted.returncode == 0, counted.stderr
    assert int(counted.stdout) == stored[0]


def test_role_that_may_not_create_the_schema_gets_exit_78_naming_the_right(
    shared_db: str, role: str, tmp_path: Path
) -> None:
    result = cli_as(as_role(shared_db, role), tmp_path, "db", "start")
    assert result.returncode == ExitCode.CONFIG, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "CREATE on database" in lines[0] and role in lines[0], lines[0]
    assert "internal error" not in lines[0]


def test_schema_made_by_the_owner_without_create_for_the_role_is_exit_78(
    shared_db: str, role: str, tmp_path: Path
) -> None:
    grant(shared_db, "CREATE SCHEMA retweetctl")
    grant(shared_db, f"GRANT USAGE ON SCHEMA retweetctl TO {role}")
    result = cli_as(as_role(shared_db, role), tmp_path, "db", "start")
    assert result.returncode == ExitCode.CONFIG, result.stderr
    assert "CREATE on schema retweetctl" in result.stderr, result.stderr
    # Once granted, the same command works: the schema is usable as the owner made it.
    grant(shared_db, f"GRANT CREATE ON SCHEMA retweetctl TO {role}")
    again = cli_as(as_role(shared_db, role), tmp_path, "db", "start")
    assert again.returncode == ExitCode.OK, again.stderr


def test_configured_schema_name(shared_db: str, tmp_path: Path) -> None:
    env = user_env(
        RETWEETCTL_DATABASE_URL=shared_db,
        RETWEETCTL_HOME=str(tmp_path / "home"),
        RETWEETCTL_SCHEMA="lab_rt",
    )
    result = run_cli(["load", str(TWARC / "brexit.jsonl")], env)
    assert result.exit_code == ExitCode.OK, result.stderr
    with psycopg.connect(shared_db) as admin:
        found = admin.execute("SELECT count(*) FROM lab_rt.retweets").fetchone()
    assert found is not None and found[0] > 0
    bad = run_cli(["db", "url"], {**env, "RETWEETCTL_SCHEMA": "Robert'); DROP"})
    assert bad.exit_code == ExitCode.CONFIG
    assert "schema must be" in bad.stderr


def legacy_install(url: str, versions: int = 3) -> None:
    """An installation as migrations 0001..0003 made it before 0004: everything in `public`."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for migration in available_migrations()[:versions]:
            conn.execute(migration.path.read_text(encoding="utf-8"))
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )


def test_migration_0004_moves_an_existing_installation_without_losing_a_row(
    empty_db_url: str,
) -> None:
    legacy_install(empty_db_url)
    rows = [(t, r, 100 + t % 3) for t in range(1, 40) for r in range(1, 30)]
    with psycopg.connect(empty_db_url) as conn:
        conn.execute("SET search_path = public")
        merge_rows(conn, rows)
        conn.execute("INSERT INTO users (id, username) VALUES (7, 'seven')")
        conn.execute("INSERT INTO watched_tweets (tweet_id) VALUES (5)")
        conn.commit()
        before = conn.execute("SELECT sum(n), count(*) FROM retweet_cells").fetchone()
    with psycopg.connect(empty_db_url) as conn:
        applied = migrate(conn)
        assert [m.version for m in applied] == [m.version for m in available_migrations()[3:]]
        conn.execute("SET search_path = retweetctl")
        assert conn.execute("SELECT count(*) FROM retweets").fetchone() == (len(rows),)
        assert conn.execute("SELECT username FROM users").fetchall() == [("seven",)]
        assert conn.execute("SELECT tweet_id FROM watched_tweets").fetchall() == [(5,)]
        assert conn.execute("SELECT sum(n), count(*) FROM retweet_cells").fetchone() == before
        left = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        ).fetchone()
        assert left == (0,)
        # The moved sequence and triggers still work, with no search_path at all.
        conn.execute("SET search_path = ''")
        conn.execute(
            "INSERT INTO retweetctl.retweets (tweet_id, retweeter_id, author_id) VALUES (999, 1, 4)"
        )
        conn.execute("SELECT nextval('retweetctl.retweet_staging_batch_seq')")
        assert conn.execute(
            "SELECT count(*) FROM retweetctl.retweet_cell_deltas WHERE author_id = 4"
        ).fetchone() == (1,)
        conn.commit()
        assert migrate(conn) == []


def test_another_tools_schema_migrations_in_public_is_left_alone(empty_db_url: str) -> None:
    """A Rails-style public.schema_migrations is not mistaken for ours."""
    with psycopg.connect(empty_db_url) as conn:
        conn.execute("CREATE TABLE schema_migrations (version varchar PRIMARY KEY)")
        conn.execute("INSERT INTO schema_migrations VALUES ('20240101000000')")
        conn.commit()
        applied = migrate(conn)
        assert len(applied) == len(available_migrations())
        assert conn.execute("SELECT version FROM public.schema_migrations").fetchall() == [
            ("20240101000000",)
        ]


def test_statement_timeout_cancel_is_exit_75_with_a_clear_line(db_url: str, tmp_path: Path) -> None:
    """The role's statement_timeout cancels a statement stuck behind another session's lock."""
    database = psycopg.conninfo.conninfo_to_dict(db_url)["dbname"]
    grant(db_url, f"ALTER DATABASE \"{database}\" SET statement_timeout = '1s'")
    with psycopg.connect(db_url) as holder:
        holder.execute("LOCK TABLE watched_tweets IN ACCESS EXCLUSIVE MODE")
        result = cli_as(db_url, tmp_path, "watch", "add", "5")
        holder.rollback()
    assert result.returncode == ExitCode.TEMPORARY, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "statement_timeout" in lines[0], lines
    assert "internal error" not in lines[0]
