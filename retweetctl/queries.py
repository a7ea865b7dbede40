"""SQL text lives in sql/*.sql (shipped in the wheel as retweetctl/sql); this loads it."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from psycopg import sql

_SOURCE_TREE_SQL = Path(__file__).resolve().parent.parent / "sql"


def sql_dir() -> Path:
    """The installed copy inside the package, or sql/ beside it in a source checkout."""
    packaged = resources.files("retweetctl") / "sql"
    if packaged.is_dir():
        return Path(str(packaged))
    return _SOURCE_TREE_SQL


@cache
def load(name: str) -> sql.SQL:
    """The statement in sql/<name>.sql, ready for cursor.execute."""
    return sql.SQL((sql_dir() / f"{name}.sql").read_text(encoding="utf-8"))  # noqa: S608
