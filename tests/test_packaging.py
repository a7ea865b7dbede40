"""A non-editable install carries its SQL: build the wheel and run it from there."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg

from retweetctl.migrations import available_migrations
from tests.conftest import user_env

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_sql_and_works_without_the_source_tree(
    tmp_path: Path, empty_db_url: str
) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("retweetctl-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n for n in names if n.startswith("retweetctl/sql/") and n.endswith(".sql")}
    expected = {
        f"retweetctl/sql/{p.relative_to(ROOT / 'sql')}" for p in (ROOT / "sql").rglob("*.sql")
    }
    assert expected and shipped == expected

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    env = user_env()
    env.update(
        PYTHONPATH=str(target),
        RETWEETCTL_DATABASE_URL=empty_db_url,
        RETWEETCTL_HOME=str(tmp_path / "home"),
    )
    code = (
        "import retweetctl, retweetctl.queries as q; print(retweetctl.__file__); print(q.sql_dir())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    module_file, sql_dir = out.stdout.split()
    assert module_file.startswith(str(target)) and sql_dir == str(target / "retweetctl" / "sql")
    started = subprocess.run(
        [sys.executable, "-m", "retweetctl", "db", "start"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert started.returncode == 0, started.stderr
    # The database was empty: every migration ran from the wheel's SQL files.
    with psycopg.connect(empty_db_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [m.version for m in available_migrations()]
    # And the merge's statements too: a load through the installed package.
    loaded = subprocess.run(
        [sys.executable, "-m", "retweetctl", "load", "--json", "-"],
        env=env,
        input="tweet_id,retweeter_id,author_id\n5,6,7\n5,8,7\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert loaded.returncode == 0, loaded.stderr
    with psycopg.connect(empty_db_url) as conn:
        stored = conn.execute("SELECT tweet_id, retweeter_id, author_id FROM retweets ORDER BY 2")
        assert stored.fetchall() == [(5, 6, 7), (5, 8, 7)]
