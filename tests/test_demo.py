"""`make demo`, the first thing a new user runs: it works and reads at 80 columns."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import user_env


@pytest.fixture
def short_cwd() -> Iterator[Path]:
    """A short directory: the demo's embedded server puts its socket under it."""
    directory = Path(tempfile.mkdtemp(prefix="rtc-demo-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_the_demo_runs_and_every_line_fits_80_columns(short_cwd: Path) -> None:
    env = {**user_env(), "COLUMNS": "80"}
    done = subprocess.run(
        [sys.executable, "-m", "retweetctl.sandbox", "demo"],
        cwd=short_cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "$ retweetctl watch list" in lines and "$ retweetctl matrix" in lines
    # Every line but the one naming the sandbox's URL and the data directory (as long as
    # the path the user cloned into).
    wide = [line for line in lines if len(line) > 80 and "retweetctl's data in" not in line]
    assert wide == [], wide
