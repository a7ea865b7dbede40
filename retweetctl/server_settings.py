"""Settings of the embedded PostgreSQL for bulk work, sized from the machine's memory.

PostgreSQL's defaults (shared_buffers 128 MB, work_mem 4 MB, max_wal_size 1 GB)
suit a server sharing a small machine; the embedded server mostly runs big
COPYs, hash joins and index maintenance on one table. The user overrides any
of them with `pg_settings` (RETWEETCTL_PG_SETTINGS), e.g.
"shared_buffers=1GB work_mem=64MB".
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from retweetctl.errors import ConfigError

__all__ = ["bulk_settings", "machine_memory", "parse_settings", "server_settings"]

MB = 1 << 20
GB = 1 << 30
# Memory shares and bounds, as PostgreSQL's tuning guide and pgtune suggest for a
# server that mostly loads: a quarter of memory is their dedicated-server figure;
# an eighth leaves room for the desktop and the files in the page cache. 3 GB on
# a 24 GiB machine holds the heap and primary key of a 10M-row retweets table.
SHARED_BUFFERS_SHARE, SHARED_BUFFERS_RANGE = 1 / 8, (128 * MB, 8 * GB)
# One hash join (the merge's prune) or sort per query at a time: 1/256 of memory.
WORK_MEM_SHARE, WORK_MEM_RANGE = 1 / 256, (4 * MB, 256 * MB)
# Index builds and VACUUM of a big table: 1/32 of memory.
MAINTENANCE_SHARE, MAINTENANCE_RANGE = 1 / 32, (64 * MB, 2 * GB)
# A 10M-row merge writes several GB of WAL; 1 GB forces checkpoints in the middle of it.
MAX_WAL_SIZE = "8GB"
MIN_WAL_SIZE = "1GB"
CHECKPOINT_TIMEOUT = "15min"
# A setting as written in postgresql.conf, without quotes: 128MB, 0.9, on, 15min.
_NAME = re.compile(r"[a-z][a-z0-9_.]*")
_VALUE = re.compile(r"[A-Za-z0-9._+-]+")
# Kept by retweetctl: the server listens on a private socket only (trust authentication
# is safe only there), and no setting may pull in another file.
RESERVED = frozenset(
    {
        "listen_addresses",
        "port",
        "unix_socket_directories",
        "unix_socket_permissions",
        "unix_socket_group",
        "hba_file",
        "ident_file",
        "config_file",
        "data_directory",
        "include",
        "include_dir",
        "include_if_exists",
    }
)
_CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)


def machine_memory() -> int:
    """Physical memory in bytes, or the cgroup's limit when a container has a smaller one."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in _CGROUP_LIMITS:
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def _share(memory: int, share: float, bounds: tuple[int, int]) -> str:
    low, high = bounds
    size = min(max(int(memory * share), low), high)
    return f"{size // MB}MB"


def bulk_settings(memory: int) -> dict[str, str]:
    """Settings for a machine with `memory` bytes."""
    return {
        "shared_buffers": _share(memory, SHARED_BUFFERS_SHARE, SHARED_BUFFERS_RANGE),
        "work_mem": _share(memory, WORK_MEM_SHARE, WORK_MEM_RANGE),
        "maintenance_work_mem": _share(memory, MAINTENANCE_SHARE, MAINTENANCE_RANGE),
        "effective_cache_size": f"{max(memory // 2 // MB, 128)}MB",
        "max_wal_size": MAX_WAL_SIZE,
        "min_wal_size": MIN_WAL_SIZE,
        "checkpoint_timeout": CHECKPOINT_TIMEOUT,
    }


def parse_settings(
    text: str, origin: str = "pg_settings (RETWEETCTL_PG_SETTINGS)"
) -> dict[str, str]:
    """'name=value' pairs separated by spaces or commas; ConfigError (exit 78) otherwise."""
    settings: dict[str, str] = {}
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        name, equals, value = item.partition("=")
        name = name.strip().lower()
        if not equals or not _NAME.fullmatch(name) or not _VALUE.fullmatch(value.strip()):
            raise ConfigError(
                f"{origin}: {item!r} is not name=value (e.g. shared_buffers=1GB work_mem=64MB)"
            )
        if name in RESERVED:
            raise ConfigError(f"{origin}: {name} is kept by retweetctl (a socket-only server)")
        settings[name] = value.strip()
    return settings


def server_settings(overrides: str | None, memory: int | None = None) -> dict[str, str]:
    """The bulk settings for this machine with the user's overrides on top."""
    settings = bulk_settings(machine_memory() if memory is None else memory)
    if overrides:
        settings.update(parse_settings(overrides))
    return settings
