# ruff: noqa: F811 - pytest fixtures imported from tests.fake_x_api are redefined as arguments
"""One global lock order on `users`: a load of many user chunks beside fetches never deadlocks."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from retweetctl import load as load_module
from retweetctl.config import Secret, Settings
from retweetctl.fetch import run_fetch
from retweetctl.load import LoadOptions, load_files
from retweetctl.sandbox import SandboxServer, SandboxTweet, SandboxUser
from retweetctl.watchlist import add as watch_add
from retweetctl.xapi import RetryPolicy, XApi
from tests.fake_x_api import TOKEN, fake_x  # noqa: F401 - fixtures

AUTHOR = SandboxUser(7, "author", "Author")
CHUNK = 200  # users per load chunk in this test (the real one is 50k)
CHUNKS = 6
FIRST_USER = 10_000


def write_pages(path: Path) -> list[int]:
    """retweeted_by pages, highest ids first: each chunk locks ids below the chunk before."""
    ids = list(range(FIRST_USER + CHUNK * CHUNKS - 1, FIRST_USER - 1, -1))
    with path.open("w", encoding="utf-8") as out:
        for page, start in enumerate(range(0, len(ids), 100)):
            users = [
                {"id": str(i), "username": f"l{i}", "name": "L"} for i in ids[start : start + 100]
            ]
            url = f"https://api.twitter.com/2/tweets/{900 + page}/retweeted_by?max_results=100"
            out.write(json.dumps({"data": users, "meta": {}, "__twarc": {"url": url}}) + "\n")
    return ids


# The load stops before reading this line (two user chunks behind it, four ahead)
# until a fetch is seen waiting on a lock or gets through: the old per-chunk
# upserts then deadlocked; one sorted upsert at the end of the file cannot.
GATE_LINE = 5
GATE_SECONDS = 15.0


class GatedLines(io.BytesIO):
    """An input that calls `gate` once, before handing out line number `gate_line`."""

    def __init__(self, data: bytes, gate_line: int, gate: Callable[[], None]) -> None:
        super().__init__(data)
        self.gate_line, self.gate, self.lines = gate_line, gate, 0

    def peek(self, size: int = 0) -> bytes:
        position = self.tell()
        head = self.read(max(size, 1))
        self.seek(position)
        return head

    def __iter__(self) -> GatedLines:
        return self

    def __next__(self) -> bytes:
        self.lines += 1
        if self.lines == self.gate_line:
            self.gate()
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class Round:
    """One load of the pages file, with two fetch loops running until it commits."""

    def __init__(self, db_url: str, settings: Settings, pages: Path) -> None:
        self.db_url, self.settings, self.pages = db_url, settings, pages
        self.errors: list[BaseException] = []
        self.loading = threading.Event()  # the load has read its first lines
        self.loaded = threading.Event()
        self.fetched = threading.Event()  # a fetch run got through while the load was open

    def run(self, tweets: list[int]) -> None:
        threads = [threading.Thread(target=self.load)] + [
            threading.Thread(target=self.fetches, args=(order,))
            for order in (tweets, list(reversed(tweets)))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not self.errors, self.errors

    def fetch_reached_the_loads_users(self) -> None:
        """Until a fetch waits on a lock the load holds, or a fetch got through (bounded)."""
        self.loading.set()
        deadline = time.monotonic() + GATE_SECONDS
        with psycopg.connect(self.db_url, autocommit=True) as watcher:
            while time.monotonic() < deadline and self.fetched.wait(0.05) is False:
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                ).fetchone()
                if waiting and waiting[0]:
                    return

    def load(self) -> None:
        try:
            stream = GatedLines(
                self.pages.read_bytes(), GATE_LINE, self.fetch_reached_the_loads_users
            )
            with psycopg.connect(self.db_url) as conn:
                load_files(
                    conn,
                    ["-"],
                    LoadOptions(author=AUTHOR.id),
                    stdin=stream,
                    rejects_dir=self.pages.parent,
                )
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            self.loading.set()
            self.loaded.set()

    def fetches(self, tweet_ids: list[int]) -> None:
        """fetch (users of every load chunk) and watch add, in a loop until the load is done."""
        try:
            self.loading.wait()
            with psycopg.connect(self.db_url) as conn:
                while True:
                    api = XApi(self.settings, RetryPolicy(backoff=0))
                    result = run_fetch(conn, api, tweet_ids, force=True)
                    assert result.exit_code == 0, result.error
                    watch_add(conn, list(reversed(tweet_ids)))
                    self.fetched.set()
                    if self.loaded.is_set():
                        return
        except BaseException as exc:
            self.errors.append(exc)


def overlap_rounds(
    db_url: str, fake: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rounds: int
) -> None:
    monkeypatch.setattr(load_module, "USER_CHUNK", CHUNK)
    monkeypatch.setattr(load_module, "ROW_CHUNK", CHUNK)
    ids = write_pages(tmp_path / "pages.jsonl")
    # Every fetched tweet names users of every chunk of the load, with other names.
    fetched = [SandboxUser(i, f"f{i}", "F") for i in sorted(ids)[:: CHUNK // 4]]
    tweets = [3000 + n for n in range(4)]
    for tweet_id in tweets:
        fake.state.add(SandboxTweet(tweet_id, AUTHOR, fetched))
    settings = Settings(home=tmp_path, bearer_token=Secret(TOKEN), api_base_url=fake.url)
    for _ in range(rounds):
        Round(db_url, settings, tmp_path / "pages.jsonl").run(tweets)
    with psycopg.connect(db_url) as conn:
        named = conn.execute("SELECT count(*) FROM users WHERE id >= %s", (FIRST_USER,)).fetchone()
        assert named == (len(ids),)
        stored = conn.execute(
            "SELECT count(*) FROM retweets WHERE tweet_id >= 900 AND tweet_id < 3000"
        ).fetchone()
        assert stored == (len(ids),)
        failed = conn.execute("SELECT count(*) FROM fetch_runs WHERE status <> 'ok'").fetchone()
        assert failed == (0,)


def test_load_of_many_user_chunks_beside_fetches_does_not_deadlock(
    db_url: str, fake_x: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overlap_rounds(db_url, fake_x, tmp_path, monkeypatch, rounds=2)


@pytest.mark.stress
def test_load_beside_fetches_many_rounds(
    db_url: str, fake_x: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    overlap_rounds(db_url, fake_x, tmp_path, monkeypatch, rounds=30)
