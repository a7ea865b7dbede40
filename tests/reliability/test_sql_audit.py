"""No SQL text is built by interpolating identifiers or values: parameters or psycopg.sql only.

A static audit of the package's source (so a new module is covered without editing
this file), plus a runtime check that hostile names reach the tables literally.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from retweetctl.database import Connection
from retweetctl.ingest import upsert_users

PACKAGE = Path(__file__).resolve().parents[2] / "retweetctl"
# Statement keywords, upper case as the codebase writes SQL; prose rarely shouts them.
SQL_KEYWORDS = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|COPY|TRUNCATE|GRANT|VACUUM|ANALYZE|"
    r"FROM|WHERE|VALUES|JOIN)\b"
)
EXECUTING_METHODS = {"execute", "executemany", "copy", "stream"}
# Reviewed exceptions: (file, start of the constant text) -> why it is safe.
ALLOWED = {
    ("ingest.py", "COPY retweet_staging ("): "STAGING_COLUMNS is a module constant",
    # The GRANT a missing right needs, in a ConfigError's message: shown, never executed.
    ("migrations.py", "CREATE on database "): "error message text",
    ("migrations.py", "USAGE on schema "): "error message text",
    ("migrations.py", "CREATE on schema "): "error message text",
}


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def constant_text(node: ast.AST) -> str:
    """The literal parts of a string-building expression, joined."""
    return "".join(
        part.value
        for part in ast.walk(node)
        if isinstance(part, ast.Constant) and isinstance(part.value, str)
    )


def is_built(node: ast.AST) -> bool:
    """f-strings, `"…" % x`, `"…".format(x)` and `"…" + x`: text made from values."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return any(
            isinstance(side, ast.Constant) and isinstance(side.value, str)
            for side in (node.left, node.right)
        )
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    )


def built_strings(tree: ast.AST) -> list[ast.expr]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.expr) and is_built(node)]


def violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in built_strings(tree):
        text = constant_text(node)
        if not SQL_KEYWORDS.search(text):
            continue
        if any(path.name == name and text.startswith(start) for name, start in ALLOWED):
            continue
        found.append(f"{path.name}:{node.lineno}: {text[:60]!r}")
    return found


def test_no_sql_is_built_from_values_or_identifiers() -> None:
    found = [v for path in sources() for v in violations(path)]
    assert found == [], "SQL built by string interpolation:\n" + "\n".join(found)


def test_the_audit_catches_what_it_is_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "def f(conn, table, name):\n"
        "    conn.execute(f'SELECT * FROM {table}')\n"
        "    conn.execute('DELETE FROM users WHERE username = %s' % name)\n"
        "    conn.execute('INSERT INTO {} VALUES (1)'.format(table))\n"
        "    conn.execute('DROP TABLE ' + table)\n"
        "    conn.execute('SELECT 1 FROM users WHERE id = %s', (name,))\n"  # parameters: fine
    )
    assert [v.split(":")[1] for v in violations(bad)] == ["2", "3", "4", "5"]


def test_every_allowed_exception_still_exists() -> None:
    """An allow-list entry whose code is gone would silently permit a new one."""
    texts = {
        (path.name, constant_text(node))
        for path in sources()
        for node in built_strings(ast.parse(path.read_text(encoding="utf-8")))
    }
    for name, start in ALLOWED:
        assert any(n == name and t.startswith(start) for n, t in texts), (name, start)


HOSTILE_NAMES = [
    "'); DROP TABLE retweets; --",
    'Robert"; DELETE FROM users; --',
    "%s %(x)s {} $1 \\ ''",
    "名前\u202e\u200b",
]


def test_hostile_usernames_are_stored_literally(conn: Connection) -> None:
    users = [(index + 1, name, name) for index, name in enumerate(HOSTILE_NAMES)]
    upsert_users(conn, users)
    conn.commit()
    stored = conn.execute("SELECT id, username, name FROM users ORDER BY id").fetchall()
    assert stored == users
    assert conn.execute("SELECT to_regclass('retweets') IS NOT NULL").fetchone() == (True,)


def test_executing_methods_take_no_built_strings() -> None:
    """Belt and braces: no execute()/copy() call's first argument is an f-string or % / format."""
    found = []
    for path in sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in EXECUTING_METHODS
                and node.args
                and is_built(node.args[0])  # load(f"name_{kind}") picks a file: not SQL
            ):
                text = constant_text(node.args[0])
                if not any(path.name == n and text.startswith(s) for n, s in ALLOWED):
                    found.append(f"{path.name}:{node.lineno}")
    assert found == []
