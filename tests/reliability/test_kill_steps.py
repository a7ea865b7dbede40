"""kill -9 at each step of a merge's transaction, for the library merge, `load` and `fetch`.

Every kill is aimed at a step the process has reached (tests/reliability/steps.py) and
asserts where it landed: during COPY, between COPY and the merge, during the merge,
after the merge before COMMIT, during COMMIT. Then the outcome must be exactly that
step's: every unit (batch, file, tweet) committed before it stored, the unit in flight
stored whole if the kill came during its COMMIT and not at all otherwise, staging
empty, the run's audit row left `running`; and the next run adds exactly the rest.

make test aims each step once, at a unit chosen by a fixed seed; make stress aims every
step at every unit.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from retweetctl.aggregate import check
from retweetctl.embedded import EmbeddedServer
from retweetctl.sandbox import SandboxServer
from tests.reliability.features import add_tweets, fetch_env, reported_added, write_csv, write_twarc
from tests.reliability.harness import (
    Proc,
    added_total,
    cli_command,
    committed_batches,
    count,
    retweets,
    spawn,
    worker_command,
    write_spec,
)
from tests.reliability.steps import (
    STEPS,
    Aim,
    Row,
    allow_commit_waits,
    pause_env,
    strike,
)

SEED = 20261201


@dataclass
class Scenario:
    """A command whose work is a sequence of units, each merged in its own transaction."""

    units: list[set[Row]]
    copies_per_unit: int  # COPYs into staging per unit (fetch: one per page)
    command: list[str]  # the run that gets killed
    final: list[str]  # the run afterwards, whose added count is checked
    env: dict[str, str]
    added: Callable[[str], int]  # the added count a run printed
    audited: bool  # leaves a fetch_runs row

    def before(self, unit: int) -> set[Row]:
        return set().union(*self.units[:unit])

    def key(self, unit: int) -> Row:
        """A row of `unit` that no unit before it holds: the merge step's lock target."""
        return min(self.units[unit] - self.before(unit))

    def aims(self, rng: random.Random, every: bool) -> list[Aim]:
        """Each step at one seeded unit (page too), or at every unit (and every page)."""
        aims = []
        for step in STEPS:
            for unit in range(len(self.units)) if every else [rng.randrange(len(self.units))]:
                pages = list(range(1, self.copies_per_unit + 1))
                if step != "copying" or not every:
                    pages = [rng.choice(pages)]
                for page in pages:
                    nth = {
                        "copying": unit * self.copies_per_unit + page,
                        "copied": (unit + 1) * self.copies_per_unit,  # the unit's last COPY
                    }.get(step, unit + 1)
                    aims.append(Aim(step, unit, nth, self.key(unit)))
        return aims


def merge_scenario(tmp_path: Path, env: dict[str, str]) -> Scenario:
    """The library merge (merge_rows) through merge_worker.py: 5 overlapping batches."""
    size = 2_000
    batches = [
        [(100 + b % 2, r, 7) for r in range(1 + b * size // 2, 1 + b * size // 2 + size)]
        for b in range(5)
    ]
    spec = write_spec(tmp_path / "spec.json", batches)
    command = worker_command(["merge", str(spec)])
    return Scenario([set(b) for b in batches], 1, command, command, env, added_total, False)


def load_scenario(tmp_path: Path, env: dict[str, str]) -> Scenario:
    """`load` of 2 CSV and 2 twarc JSONL files: each file is one transaction."""
    units = [
        {(620 + f, r, 720 + f % 2) for r in range(f * 2_000 + 1, f * 2_000 + 4_001)}
        for f in range(4)
    ]
    files = [write_csv(tmp_path / f"f{i}.csv", rows) for i, rows in enumerate(units[:2])]
    files += [write_twarc(tmp_path / f"f{i}.jsonl", rows, 500) for i, rows in enumerate(units[2:])]
    names = [str(f) for f in files]
    return Scenario(units, 1, cli_command(["load", "--quiet", *names]),
                    cli_command(["load", "--json", *names]), env, reported_added, True)  # fmt: skip


def fetch_scenario(sandbox: SandboxServer, env: dict[str, str]) -> Scenario:
    """`fetch` of 5 tweets of 3 pages each (100 + 100 + 50 retweeters): one transaction a tweet,
    one COPY a tweet (its pages are spooled first, outside the transaction)."""
    tweets = {630 + t: (730 + t % 2, range(t * 50 + 1, t * 50 + 251)) for t in range(5)}
    served = add_tweets(sandbox, tweets)
    ids = [str(t) for t in tweets]
    return Scenario([served[t] for t in tweets], 1,
                    cli_command(["fetch", "--limit", "0", "--quiet", *ids]),
                    cli_command(["fetch", "--limit", "0", "--json", *ids]),
                    fetch_env(env, sandbox), reported_added, True)  # fmt: skip


def kill_at(
    scenario: Scenario, aim: Aim, db_url: str, admin_url: str, tmp_path: Path
) -> dict[str, object]:
    """Kill the scenario's command at aim; check the landing and what is stored; rerun."""
    before = retweets(db_url)

    def start(step: str | None, nth: int) -> Proc:
        env = scenario.env if step is None else pause_env(scenario.env, step, nth)
        return spawn(scenario.command, env, tmp_path / "p", cwd=tmp_path)

    proc, landing = strike(start, db_url, admin_url, aim)
    landing.assert_at(aim.step)
    stored = retweets(db_url)
    committed_units = aim.unit + (1 if aim.step == "commit" else 0)
    assert stored - before == scenario.before(committed_units) - before, (aim, len(stored))
    assert count(db_url, "retweet_staging") == 0
    if scenario.audited:
        with psycopg.connect(db_url) as conn:
            runs = conn.execute("SELECT status, finished_at FROM fetch_runs").fetchall()
        assert runs == [("running", None)], runs  # killed: no one could write its end
    else:
        # The worker prints after each COMMIT returned: a kill during COMMIT never got to.
        assert committed_batches(proc.stdout) == list(range(aim.unit)), proc.stdout
    final = spawn(scenario.final, scenario.env, tmp_path / "p", cwd=tmp_path).wait()
    assert final.exit_code == 0, final.stderr
    everything = scenario.before(len(scenario.units))
    assert retweets(db_url) == before | everything
    assert scenario.added(final.stdout) == len(everything - stored)
    with psycopg.connect(db_url) as conn:
        assert check(conn).ok
    return {"step": aim.step, "unit": aim.unit, "nth": aim.nth, "query": landing.query[:40]}


def reset(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        for table in ("retweets", "watched_tweets", "fetch_runs", "users"):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names


def run_aims(
    scenario: Scenario, aims: list[Aim], db_url: str, pg_server: EmbeddedServer, tmp_path: Path
) -> None:
    admin_url = pg_server.url("postgres")
    allow_commit_waits(admin_url, str(conninfo_to_dict(db_url)["dbname"]))
    landed = []
    for aim in aims:
        reset(db_url)
        landed.append(kill_at(scenario, aim, db_url, admin_url, tmp_path))
    assert sorted({str(x["step"]) for x in landed}) == sorted(STEPS)
    print(json.dumps(landed))  # the distribution, for the README table (pytest -s)


SCENARIOS = ("merge", "load", "fetch")


def scenario_for(
    name: str, tmp_path: Path, cli_env: dict[str, str], sandbox: SandboxServer
) -> Scenario:
    if name == "merge":
        return merge_scenario(tmp_path, cli_env)
    if name == "load":
        return load_scenario(tmp_path, cli_env)
    return fetch_scenario(sandbox, cli_env)


@pytest.mark.timeout(3600)
@pytest.mark.parametrize(
    "every",
    [False, pytest.param(True, marks=pytest.mark.stress)],
    ids=["each-step-once", "stress-every-step-of-every-unit"],
)
@pytest.mark.parametrize("name", SCENARIOS)
def test_kill_9_at_each_step(
    name: str,
    every: bool,
    pg_server: EmbeddedServer,
    sandbox: SandboxServer,
    cli_env: dict[str, str],
    db_url: str,
    tmp_path: Path,
) -> None:
    scenario = scenario_for(name, tmp_path, cli_env, sandbox)
    rng = random.Random(SEED if every else f"{SEED}-{name}")
    run_aims(scenario, scenario.aims(rng, every), db_url, pg_server, tmp_path)
