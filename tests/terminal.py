"""Run the CLI as a user at a terminal: one stream on a real pseudo-terminal of a given size.

One helper for every test where layout or a progress bar matters (a pipe would make
rich drop both): the matrix heatmap on stdout, the progress bars of load and the
matrix catch-up on stderr.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

# Long enough for a loaded machine (the CLI alone takes about a second to start).
WAIT_SECONDS = 120
# How often to look whether the command ended while the terminal is quiet.
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class TerminalRun:
    exit_code: int
    screen: bytes  # what the terminal received
    stdout: str  # the other stream, when the terminal is stderr ("" if it went to a file)
    stderr: str  # the other stream, when the terminal is stdout


def run_on_terminal(
    args: list[str],
    env: dict[str, str],
    *,
    on: Literal["stdout", "stderr", "both"] = "stdout",
    columns: int = 80,
    lines: int = 50,
    cwd: Path | None = None,
    stdout: IO[bytes] | None = None,
    typed: bytes | None = None,
) -> TerminalRun:
    """`retweetctl ARGS` with `on` attached to a columns x lines pseudo-terminal; the other
    stream piped (or stdout written to the given file). "both": both on the terminal, as
    at a user's prompt, interleaved as the user sees them. typed: standard input is the
    terminal too, and these keys are typed once the command has written something."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    environment = {**env, "COLUMNS": str(columns), "LINES": str(lines)}
    environment.setdefault("TERM", "xterm-256color")
    process = subprocess.Popen(
        [sys.executable, "-m", "retweetctl", *args],
        stdin=child if typed is not None else subprocess.DEVNULL,
        stdout=child if on in ("stdout", "both") else (stdout or subprocess.PIPE),
        stderr=child if on in ("stderr", "both") else subprocess.PIPE,
        env=environment,
        cwd=cwd,
        close_fds=True,
    )
    os.close(child)
    other = {"stdout": process.stderr, "stderr": process.stdout, "both": None}[on]
    screen = b""
    deadline = time.monotonic() + WAIT_SECONDS
    if typed is not None:  # the keys, once the command shows it waits for them
        while not screen:
            ready, _, _ = select.select([main], [], [], POLL_SECONDS)
            assert time.monotonic() < deadline, f"no output after {WAIT_SECONDS} s"
            if ready:
                screen += os.read(main, 65536)
        os.write(main, typed)
    while True:
        assert time.monotonic() < deadline, f"still running after {WAIT_SECONDS} s"
        ready, _, _ = select.select([main], [], [], POLL_SECONDS)
        if not ready:
            # Done, even if a server the command started still holds the terminal open.
            if process.poll() is not None:
                break
            continue
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the last writer of the terminal is gone
            break
        if not data:
            break
        screen += data
    os.close(main)
    text = other.read().decode(errors="replace") if other is not None else ""
    code = process.wait(timeout=WAIT_SECONDS)
    return TerminalRun(
        code,
        screen,
        stdout=text if on == "stderr" else "",
        stderr=text if on == "stdout" else "",
    )
