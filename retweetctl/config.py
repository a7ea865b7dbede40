"""Settings: environment beats the config file, which beats the defaults."""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import platformdirs
import psycopg
from psycopg.conninfo import conninfo_to_dict

from retweetctl.errors import ConfigError
from retweetctl.server_settings import parse_settings

APP_NAME = "retweetctl"
CONFIG_FILE_NAME = "config.toml"
DEFAULT_API_BASE_URL = "https://api.twitter.com"
# tweepy sets no timeout; a stalled connection would hang a cron job forever.
DEFAULT_HTTP_TIMEOUT = 30.0
# retweetctl's tables live in their own schema, out of the way of a shared database's `public`.
DEFAULT_SCHEMA = "retweetctl"
# A plain lower-case identifier: no quoting needed in SQL, search_path or libpq options.
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
REDACTED = "***"


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)
    # Every secret seen in this process, so error paths can scrub them from any text.
    _known: ClassVar[set[str]] = set()
    # Shorter values would scrub innocent text and are no real secret anyway.
    _MIN_SCRUB_LENGTH = 4

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= self._MIN_SCRUB_LENGTH:
            Secret._known.update({value, quote(value, safe=""), quote(value)})

    @classmethod
    def scrub(cls, text: str) -> str:
        """text with every known secret replaced by ***."""
        for value in sorted(cls._known, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return text

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: Secret | None = None
    bearer_token: Secret | None = None
    api_base_url: str = DEFAULT_API_BASE_URL
    http_timeout: float = DEFAULT_HTTP_TIMEOUT
    pg_bindir: Path | None = None
    schema: str = DEFAULT_SCHEMA
    # "name=value …" for the embedded server, over the sizes chosen from memory
    pg_settings: str | None = None
    config_file: Path | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None


# Setting name -> environment variables, first one set wins.
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "database_url": ("RETWEETCTL_DATABASE_URL",),
    "bearer_token": ("X_BEARER_TOKEN", "TWITTER_BEARER_TOKEN"),
    "api_base_url": ("RETWEETCTL_API_BASE_URL",),
    "http_timeout": ("RETWEETCTL_HTTP_TIMEOUT",),
    "pg_bindir": ("RETWEETCTL_PG_BINDIR",),
    "schema": ("RETWEETCTL_SCHEMA",),
    "pg_settings": ("RETWEETCTL_PG_SETTINGS",),
}
SECRET_KEYS = frozenset({"database_url", "bearer_token"})


def default_home() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings; raise ConfigError naming the file or variable at fault."""
    env = os.environ if env is None else env
    home = (
        Path(env["RETWEETCTL_HOME"]).expanduser() if env.get("RETWEETCTL_HOME") else default_home()
    )
    config_path = (
        Path(env["RETWEETCTL_CONFIG"]).expanduser()
        if env.get("RETWEETCTL_CONFIG")
        else home / CONFIG_FILE_NAME
    )

    values: dict[str, object] = {}
    warnings: list[str] = []
    config_file: Path | None = None
    if config_path.is_file():
        config_file = config_path
        values.update(_read_config_file(config_path))
        warnings.extend(_permission_warnings(config_path, values))
    elif env.get("RETWEETCTL_CONFIG"):
        raise ConfigError(f"config file {config_path} (RETWEETCTL_CONFIG) does not exist")

    for key, names in ENVIRONMENT.items():
        for name in names:
            if name in env:
                values[key] = env[name]
                break

    database_url = _secret(values, "database_url")
    if database_url is not None:
        _register_dsn_password(database_url.reveal())
    return Settings(
        home=home,
        database_url=database_url,
        bearer_token=_secret(values, "bearer_token"),
        api_base_url=str(values.get("api_base_url") or DEFAULT_API_BASE_URL).rstrip("/"),
        http_timeout=_positive_float(values, "http_timeout", DEFAULT_HTTP_TIMEOUT),
        pg_bindir=Path(str(values["pg_bindir"])) if values.get("pg_bindir") else None,
        schema=_schema(values),
        pg_settings=_pg_settings(values),
        config_file=config_file,
        warnings=tuple(warnings),
    )


def _pg_settings(values: Mapping[str, object]) -> str | None:
    text = str(values.get("pg_settings") or "").strip()
    if not text:
        return None
    parse_settings(text)  # a typo is a configuration error now, not a server that will not start
    return text


def _read_config_file(path: Path) -> dict[str, object]:
    try:
        # utf-8-sig: editors on Windows start UTF-8 files with a byte order mark.
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    unknown = sorted(set(data) - set(ENVIRONMENT))
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown setting {unknown[0]!r} (known: {', '.join(ENVIRONMENT)})"
        )
    for key, value in data.items():
        expected = (int, float) if key == "http_timeout" else str
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ConfigError(
                f"config file {path}: {key} must be a {'number' if key == 'http_timeout' else 'string'}"
            )
    return data


def _permission_warnings(path: Path, values: Mapping[str, object]) -> list[str]:
    url = str(values.get("database_url", ""))
    holds_secret = bool(values.get("bearer_token")) or redact_dsn(url) != url
    mode = path.stat().st_mode
    if holds_secret and mode & (stat.S_IRWXG | stat.S_IRWXO):
        return [
            f"warning: {path} holds a secret and is readable by others; fix it with: chmod 600 {path}"
        ]
    return []


def _secret(values: Mapping[str, object], key: str) -> Secret | None:
    value = values.get(key)
    if value is None:
        return None
    text = str(value).strip()
    if key == "bearer_token" and not text:
        return None  # an empty token is the same as none: the CLI says it is missing
    return Secret(text) if text else None


def _register_dsn_password(dsn: str) -> None:
    """Make the DSN's password scrubbable on its own: libpq may echo parts of a DSN."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise ConfigError(
            f"RETWEETCTL_DATABASE_URL is not a valid connection string: {redact_dsn(dsn)}"
        ) from None
    for key in PASSWORD_KEYS:
        if params.get(key):
            Secret(str(params[key]))


def _schema(values: Mapping[str, object]) -> str:
    raw = str(values.get("schema") or DEFAULT_SCHEMA).strip()
    if not _SCHEMA_NAME.match(raw):
        raise ConfigError(
            f"schema must be a lower-case SQL name (a-z, 0-9, _; 63 at most), got {raw!r}"
        )
    return raw


def _positive_float(values: Mapping[str, object], key: str, default: float) -> float:
    raw = values.get(key)
    if raw is None or raw == "":
        return default
    try:
        number = float(str(raw))
    except ValueError:
        number = -1.0
    if not number > 0 or number != number or number == float("inf"):
        raise ConfigError(f"{key} must be a positive number of seconds, got {raw!r}")
    return number


# Connection parameters that hold secrets: the login password and the SSL key's passphrase.
PASSWORD_KEYS = ("password", "sslpassword")
_KEYVALUE_PASSWORD = re.compile(
    r"(\s*\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE
)
# Fallbacks for a URL too broken for urlsplit (an unbalanced IPv6 bracket): userinfo
# up to the last @ before the path, and password parameters in the query.
_URL_USERINFO_PASSWORD = re.compile(r"^(postgres(?:ql)?://[^:@/?#]*):[^/?#]*@")
_URL_QUERY_PASSWORD = re.compile(r"([?&](?:ssl)?password=)[^&#]*", re.IGNORECASE)


def redact_dsn(dsn: str) -> str:
    """The DSN with any password replaced by ***, in URL or key=value form."""
    return _rewrite_password(dsn, REDACTED)


def remove_password(dsn: str) -> str:
    """The DSN with any password left out, so libpq falls back to PGPASSWORD or ~/.pgpass."""
    return _rewrite_password(dsn, None)


def _rewrite_password(dsn: str, replacement: str | None) -> str:
    if re.match(r"^postgres(ql)?://", dsn):
        try:
            parts = urlsplit(dsn)
        except ValueError:
            return _rewrite_broken_url(dsn, replacement)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, hostinfo = netloc.rsplit("@", 1)
            if ":" in userinfo:
                user = userinfo.split(":", 1)[0]
                userinfo = user if replacement is None else f"{user}:{replacement}"
            netloc = f"{userinfo}@{hostinfo}"
        query = [
            (k, replacement if k.lower() in PASSWORD_KEYS else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if replacement is not None or k.lower() not in PASSWORD_KEYS
        ]
        return urlunsplit(
            (
                parts.scheme,
                netloc,
                parts.path,
                urlencode(query, safe="/*", quote_via=quote),
                parts.fragment,
            )
        )
    if replacement is None:
        return _KEYVALUE_PASSWORD.sub("", dsn).strip()
    return _KEYVALUE_PASSWORD.sub(lambda m: m.group(1) + replacement, dsn)


def _rewrite_broken_url(dsn: str, replacement: str | None) -> str:
    userinfo = r"\1" if replacement is None else rf"\1:{replacement}"
    dsn = _URL_USERINFO_PASSWORD.sub(userinfo + "@", dsn)
    return _URL_QUERY_PASSWORD.sub(r"\g<1>" + (replacement or ""), dsn)
