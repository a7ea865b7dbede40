"""Connections: to the configured server, or to the embedded one started on demand."""

from __future__ import annotations

import ipaddress
import time
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from retweetctl.config import Settings, redact_dsn
from retweetctl.embedded import EmbeddedServer
from retweetctl.errors import UnavailableError
from retweetctl.migrations import is_current, migrate
from retweetctl.server_settings import server_settings

Connection = psycopg.Connection[tuple[object, ...]]
APPLICATION_NAME = "retweetctl"
CONNECT_TIMEOUT_SECONDS = 10
# A postmaster killed a moment ago still looks alive briefly; wait this long before looking again.
EMBEDDED_RETRY_DELAY_SECONDS = 0.5


def embedded_server(settings: Settings) -> EmbeddedServer:
    sized = server_settings(settings.pg_settings)  # from this machine's memory, then the user's
    return EmbeddedServer(settings.home, bindir=settings.pg_bindir, settings=sized)


def search_path(schema: str) -> str:
    """retweetctl's schema first, then `public` (users' own tables, extensions' functions)."""
    return schema if schema == "public" else f"{schema},public"


def with_search_path(conninfo: str, schema: str) -> str:
    """The connection string with search_path set through libpq's `options`, form kept.

    Added after any options already there (the last -c wins), so unqualified
    names mean retweetctl's tables for every client given this string, psql included.
    """
    existing = str(conninfo_to_dict(conninfo).get("options") or "")
    options = f"{existing} -c search_path={search_path(schema)}".strip()
    if not conninfo.startswith(("postgresql://", "postgres://")):
        return make_conninfo(conninfo, options=options)
    parts = urlsplit(conninfo)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "options"]
    query.append(("options", options))
    return urlunsplit(parts._replace(query=urlencode(query, safe="/", quote_via=quote)))


def database_url(settings: Settings) -> str:
    """The URL to connect to, starting the embedded server when none is configured."""
    if settings.database_url is not None:
        return settings.database_url.reveal()
    return embedded_server(settings).ensure_running()


def connect(
    settings: Settings, *, migrate_schema: bool = True, application_name: str = APPLICATION_NAME
) -> Connection:
    """Open a connection with the schema up to date; UnavailableError if the server cannot be reached.

    application_name names the session in pg_stat_activity (a load's second connection
    says what it does)."""
    url = database_url(settings)
    schema = settings.schema
    try:
        conn = _open(with_search_path(url, schema), application_name)
    except psycopg.OperationalError as exc:
        if settings.database_url is not None:
            raise _unavailable(url, exc) from None
        # The embedded postmaster may have died after we looked (kill -9): look again.
        time.sleep(EMBEDDED_RETRY_DELAY_SECONDS)
        url = embedded_server(settings).ensure_running()
        try:
            conn = _open(with_search_path(url, schema), application_name)
        except psycopg.OperationalError as again:
            raise _unavailable(url, again) from None
    if migrate_schema and not is_current(conn, schema):
        migrate(conn, schema)
    return conn


def _open(url: str, application_name: str) -> Connection:
    return psycopg.connect(
        url,
        application_name=application_name,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
    )


def _unavailable(url: str, exc: BaseException) -> UnavailableError:
    return UnavailableError(f"cannot connect to PostgreSQL at {redact_dsn(url)}: {first_line(exc)}")


def server_on_this_machine(conn: Connection) -> bool:
    """Whether the server shares this machine's cores: reached on a Unix socket or a
    loopback address (the embedded server, or one on localhost)."""
    return host_is_this_machine(conn.info.host)


def host_is_this_machine(host: str | None) -> bool:
    """A libpq host (a socket directory, a name or an address) naming this machine."""
    if not host or host.startswith("/") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # another name: another machine, as far as we can tell
        return False


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, for one-line errors."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__
