"""Kill a process at a step of its transaction, and prove it was there when it died.

A kill aimed by the clock lands wherever start-up happens to be (importing the CLI
takes about a second here). These helpers aim at what the process is doing instead:

- `copying`, `copied`, `merged`: the process stops itself at a pause point
  (retweetctl/testpoint.py, enabled by RETWEETCTL_TEST_PAUSE) and the test sees on
  the server that its backend is in that step before it kills;
- `merge`: another transaction holds a row the merge must insert, so the merge's
  INSERT waits on a lock (seen in pg_stat_activity) when the kill lands;
- `commit`: synchronous replication to a standby that does not exist makes COMMIT
  wait (wait event SyncRep) after its commit record is written; the kill lands
  there, and the transaction counts as committed once the wait is released.

`strike()` returns a `Landing`: what the server showed for the victim's backend at
the moment of the kill, which each test asserts.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from retweetctl.database import APPLICATION_NAME
from retweetctl.testpoint import ENV as PAUSE_ENV
from tests.reliability.harness import POLL_SECONDS, Proc

Row = tuple[int, int, int]
STEPS = ("copying", "copied", "merge", "merged", "commit")
# What each step means, for messages and the README table.
STEP_NAMES = {
    "copying": "during COPY",
    "copied": "between COPY and the merge",
    "merge": "during the merge (INSERT … ON CONFLICT)",
    "merged": "after the merge, before COMMIT",
    "commit": "during COMMIT",
}
# A step not reached within this is a failure of the test's aim, not a slow machine.
REACH_TIMEOUT_SECONDS = 90.0
# Any name: no standby ever connects under it, so synchronous commits wait.
ABSENT_STANDBY = "rtc_absent_standby"

# The victim's backends: the CLI connects as APPLICATION_NAME; the test's own sessions do not.
_BACKENDS = """
SELECT a.pid, a.state, a.wait_event_type, a.wait_event, a.query,
       a.backend_xid IS NOT NULL AS has_xid, p.pid IS NOT NULL AS in_copy
FROM pg_stat_activity a LEFT JOIN pg_stat_progress_copy p USING (pid)
WHERE a.datname = current_database() AND a.application_name = %s
"""


@dataclass(frozen=True)
class Landing:
    """The victim's backend as the server showed it when the kill was sent."""

    step: str
    state: str
    wait_event: str | None
    query: str
    has_xid: bool
    in_copy: bool

    def assert_at(self, step: str) -> None:
        """Fail unless the backend was in `step` of an open transaction."""
        query = self.query.lstrip()
        where = (step, self)
        if step == "copying":
            assert self.state == "active" and self.in_copy, where
            assert query.startswith("COPY retweet_staging"), where
        elif step == "copied":
            assert self.state == "idle in transaction" and self.has_xid, where
            assert query.startswith("COPY retweet_staging"), where
        elif step == "merge":
            assert self.state == "active" and self.wait_event is not None, where
            assert self.wait_event.startswith("Lock:"), where
            assert "INSERT INTO retweets" in query, where
        elif step == "merged":
            assert self.state == "idle in transaction" and self.has_xid, where
            assert query.startswith("DELETE FROM retweet_staging"), where
        elif step == "commit":
            assert self.state == "active" and self.wait_event == "IPC:SyncRep", where
            assert query.upper().startswith("COMMIT"), where
        else:
            raise AssertionError(f"unknown step {step}")


def pause_env(env: dict[str, str], step: str, nth: int) -> dict[str, str]:
    """env for a process that stops the nth time it reaches pause point `step`."""
    return dict(env, **{PAUSE_ENV: f"{step}:{nth}"})


def wait_paused(proc: Proc, step: str, nth: int) -> None:
    """Wait until proc says it reached the pause point and has stopped itself."""
    line = f"retweetctl-test-pause {step} {nth}"
    deadline = time.monotonic() + REACH_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if line in proc.stderr and _stopped(proc.popen.pid):
            return
        if proc.popen.poll() is not None:
            raise AssertionError(
                f"ended ({proc.popen.returncode}) before pause {step}:{nth}: {proc.stderr}"
            )
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"pause {step}:{nth} not reached: {proc.stderr}")


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "T"


def backends(url: str) -> list[Landing]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(_BACKENDS, (APPLICATION_NAME,)).fetchall()
    return [
        Landing(
            "",
            str(r[1]),
            None if r[2] is None else f"{r[2]}:{r[3]}",
            str(r[4]),
            bool(r[5]),
            bool(r[6]),
        )  # fmt: skip
        for r in rows
    ]


def wait_backend(url: str, proc: Proc, step: str) -> Landing:
    """Wait until one of proc's backends shows `step` (merge and commit are waits, not pauses)."""
    deadline = time.monotonic() + REACH_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        for landing in backends(url):
            try:
                landing.assert_at(step)
            except AssertionError:
                continue
            return Landing(step, landing.state, landing.wait_event, landing.query,
                           landing.has_xid, landing.in_copy)  # fmt: skip
        if proc.popen.poll() is not None:
            raise AssertionError(f"ended ({proc.popen.returncode}) before {step}: {proc.stderr}")
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"no backend reached {step}: {backends(url)}")


def kill_and_reap(proc: Proc, url: str) -> None:
    """kill -9 the client, then wait until the server has ended its backend (and transaction)."""
    proc.kill()
    deadline = time.monotonic() + REACH_TIMEOUT_SECONDS
    while backends(url):
        assert time.monotonic() < deadline, backends(url)
        time.sleep(POLL_SECONDS)


@contextmanager
def holding(url: str, row: Row) -> Iterator[None]:
    """An open transaction that has inserted `row`: a merge of the same key waits for it."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO retweets (tweet_id, retweeter_id, author_id) VALUES (%s, %s, %s)", row
        )
        try:
            yield
        finally:
            conn.rollback()


def allow_commit_waits(admin_url: str, database: str) -> None:
    """Before the victim connects: its sessions commit synchronously (the test server does not)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET synchronous_commit = on").format(
                sql.Identifier(database)
            )
        )


@contextmanager
def commits_wait(url: str, admin_url: str) -> Iterator[None]:
    """While inside, every synchronous COMMIT on the server waits for an absent standby.

    A probe transaction commits first and is seen waiting, so the setting has reached
    the server's shared state before the victim is let go; leaving releases every wait.
    """
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"ALTER SYSTEM SET synchronous_standby_names = '{ABSENT_STANDBY}'")
        admin.execute("SELECT pg_reload_conf()")
        probe = psycopg.connect(url, autocommit=True, options="-c synchronous_commit=on")
        done = threading.Event()

        def commit_probe() -> None:
            with probe.transaction():
                # A transactional WAL record: a commit that wrote no WAL never waits.
                probe.execute("SELECT pg_logical_emit_message(true, 'retweetctl-test', 'probe')")
            done.set()

        thread = threading.Thread(target=commit_probe, daemon=True)
        try:
            deadline = time.monotonic() + REACH_TIMEOUT_SECONDS
            thread.start()
            while not _waiting_on_sync_rep(admin, probe.info.backend_pid):
                # Committed without waiting: the reload had not arrived yet; try again.
                if done.is_set():
                    thread.join()
                    done.clear()
                    thread = threading.Thread(target=commit_probe, daemon=True)
                    thread.start()
                assert time.monotonic() < deadline, "synchronous commits never waited"
                time.sleep(POLL_SECONDS)
            yield
        finally:
            admin.execute("ALTER SYSTEM RESET synchronous_standby_names")
            admin.execute("SELECT pg_reload_conf()")
            thread.join(timeout=REACH_TIMEOUT_SECONDS)
            probe.close()


def _waiting_on_sync_rep(admin: psycopg.Connection[tuple[object, ...]], pid: int) -> bool:
    row = admin.execute(
        "SELECT wait_event = 'SyncRep' FROM pg_stat_activity WHERE pid = %s", (pid,)
    ).fetchone()
    return bool(row and row[0])


def resume(proc: Proc) -> None:
    os.kill(proc.popen.pid, signal.SIGCONT)


@dataclass
class Aim:
    """Where to strike: `step` of `unit` (0-based), through `nth` pause of the step.

    `key`: a row the unit inserts and nothing before it stored (for the `merge` step).
    """

    step: str
    unit: int
    nth: int
    key: Row


def strike(proc_factory, url: str, admin_url: str, aim: Aim) -> tuple[Proc, Landing]:  # type: ignore[no-untyped-def]
    """Start the victim (proc_factory(pause_step, nth) -> Proc), kill it at aim; return where."""
    if aim.step in ("copying", "copied", "merged"):
        proc = proc_factory(aim.step, aim.nth)
        wait_paused(proc, aim.step, aim.nth)
        landing = _only_backend(url, aim.step)
        kill_and_reap(proc, url)
        return proc, landing
    if aim.step == "merge":
        with holding(url, aim.key):
            proc = proc_factory(None, 0)
            landing = wait_backend(url, proc, "merge")
            proc.kill()
        kill_and_reap(proc, url)  # the blocker is gone: the backend ends its statement, then dies
        return proc, landing
    assert aim.step == "commit"
    proc = proc_factory("merged", aim.nth)
    wait_paused(proc, "merged", aim.nth)
    with commits_wait(url, admin_url):
        resume(proc)
        landing = wait_backend(url, proc, "commit")
        proc.kill()
    kill_and_reap(proc, url)
    return proc, landing


def _only_backend(url: str, step: str) -> Landing:
    """The one backend of a paused victim, as a Landing at step."""
    found = [b for b in backends(url) if b.state != "idle"]
    assert len(found) == 1, found
    b = found[0]
    return Landing(step, b.state, b.wait_event, b.query, b.has_xid, b.in_copy)
