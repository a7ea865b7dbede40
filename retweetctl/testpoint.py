"""Pause points for the reliability tests: inert unless RETWEETCTL_TEST_PAUSE is set.

`RETWEETCTL_TEST_PAUSE=STEP:N` (N defaults to 1) stops the process the N-th time it
reaches STEP: it writes `retweetctl-test-pause STEP N` on stderr and stops itself
(SIGSTOP), so a test can look at the database, then kill it (SIGKILL) or let it go
on (SIGCONT). Steps (the first three inside the batch's transaction, retweetctl/ingest.py):

- `copying`: a COPY into staging is open and its first row written;
- `copied`: a COPY into staging has ended;
- `merged`: the batch is merged into retweets and deleted from staging, not committed;
- `caught-up`: a load's background catch-up (retweetctl/background_catch_up.py) has
  folded the files committed so far into the matrix aggregate and committed;
- `catching-up`: a command's own catch-up of the matrix aggregate is about to begin
  (after a load's last file committed, or before `matrix` reads).

A pause reached in a thread other than the main one (`caught-up`) stops the whole
process, but the other threads may run on for a moment before the stop reaches them.

See tests/reliability/README.md. Without the variable each call is one comparison.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["ENV", "midway", "reached"]

ENV = "RETWEETCTL_TEST_PAUSE"
_WANTED = os.environ.get(ENV)
_counts: dict[str, int] = {}
T = TypeVar("T")


def reached(step: str) -> None:
    """Stop here if this is the N-th arrival at the step RETWEETCTL_TEST_PAUSE names."""
    if _WANTED is None:
        return
    name, _, nth = _WANTED.partition(":")
    if name != step:
        return
    _counts[step] = _counts.get(step, 0) + 1
    if _counts[step] == int(nth or 1):
        sys.stderr.write(f"retweetctl-test-pause {step} {_counts[step]}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGSTOP)


def midway(items: Iterable[T], step: str) -> Iterable[T]:
    """items, with reached(step) called after the first one (unchanged when inert)."""
    if _WANTED is None or _WANTED.partition(":")[0] != step:
        return items
    return _after_first(items, step)


def _after_first(items: Iterable[T], step: str) -> Iterator[T]:
    for number, item in enumerate(items):
        if number == 1:
            reached(step)
        yield item
