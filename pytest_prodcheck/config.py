"""Settings: ``prodcheck.toml`` + ``--prodcheck-*`` options + environment, validated and frozen.

    >>> s = load_settings(None, {"url": "https://shop.example.com", "tls.min_days": 21}, env={})
    >>> s.target, s.tls.min_days, s.pgbouncer.default_pool_size
    ('external', 21, 25)
    >>> load_settings(None, {"load.p95_ms": "fast"}, env={})
    Traceback (most recent call last):
    ...
    pytest_prodcheck.core.errors.ConfigError: option load.p95_ms = 'fast': expected a number

Precedence is option (``overrides``) > file > default. String values in the file may use
``${VAR}`` (``$$`` is a literal ``$``) so secrets stay in the environment; a missing variable is a
:class:`~pytest_prodcheck.core.errors.ConfigError` naming the key and the variable. Overrides use dotted
keys for section values (``"load.workers"``, ``"load.profiles.smoke.run_time"``); ``None``
overrides are ignored. Relative paths in the file are relative to the file's directory; relative
paths from options stay relative to the cwd.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union
from urllib.parse import urlsplit

from pytest_prodcheck.core.dsn import Dsn, dsn_password
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.secrets import mask_dsn
from pytest_prodcheck.guide import PGBOUNCER

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "DEFAULT_PROFILES",
    "LoadProfile",
    "Settings",
    "find_config",
    "load_settings",
    "parse_duration",
    "read_toml",
]

DEFAULT_CONFIG_NAME = "prodcheck.toml"
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _url(**kw: Any) -> Any:
    return field(metadata={"kind": "url"}, **kw)


def _dsn(**kw: Any) -> Any:
    return field(metadata={"kind": "dsn"}, repr=False, **kw)  # never print credentials


def _path(**kw: Any) -> Any:
    return field(metadata={"kind": "path"}, **kw)


def _choice(*choices: str, **kw: Any) -> Any:
    return field(metadata={"kind": "choice", "choices": choices}, **kw)


# --- sections ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteSettings:
    apex: str | None = None
    www: str | None = None
    api: str | None = None
    monitoring: str | None = None
    static_path: str = "/static/app.css"
    api_path: str = "/api/products"


@dataclass(frozen=True)
class TlsSettings:
    min_days: int = 14
    min_lifetime_fraction: float = 0.3333
    cipher_profile: str = _choice("modern", "intermediate", "old", default="intermediate")
    hsts_min_age: int = 63072000


@dataclass(frozen=True)
class HttpSettings:
    general_rate: int = 10
    api_rate: int = 30
    body_limit_bytes: int = 1048576


@dataclass(frozen=True)
class DatabaseSettings:
    dsn: str | None = _dsn(default=None)
    ai_dsn: str | None = _dsn(default=None)
    admin_dsn: str | None = _dsn(default=None)


@dataclass(frozen=True)
class PgBouncerSettings:
    dsn: str | None = _dsn(default=None)
    ai_dsn: str | None = _dsn(default=None)
    admin_dsn: str | None = _dsn(default=None)
    pool_mode: str = _choice("session", "transaction", "statement", default=PGBOUNCER.pool_mode)
    max_client_conn: int = PGBOUNCER.max_client_conn
    default_pool_size: int = PGBOUNCER.default_pool_size
    reserve_pool_size: int = PGBOUNCER.reserve_pool_size
    max_db_connections: int = PGBOUNCER.max_db_connections
    server_idle_timeout: int = PGBOUNCER.server_idle_timeout
    client_idle_timeout: int = PGBOUNCER.client_idle_timeout
    server_connect_timeout: int = PGBOUNCER.server_connect_timeout
    clients: int = PGBOUNCER.max_client_conn  # "up to 1,000 concurrent clients"
    overhead_min_reduction: float = 30.0  # % less per connection than direct (guide: 30-50 %)
    prepared_statements_disabled: bool = False  # every client disables server-side prepares


@dataclass(frozen=True)
class S3Settings:
    bucket: str | None = None  # default: $AWS_BACKUP_BUCKET
    endpoint_url: str | None = _url(default=None)
    region: str = "us-east-1"
    prefix: str = "databases/"


@dataclass(frozen=True)
class BackupSettings:
    dir: str = _path(default="backups/databases")
    retain_days: int = 30
    max_age_hours: int = 26
    schedule: str = "0 2 * * *"
    log: str = _path(default="/var/log/ecommerce_backup.log")


@dataclass(frozen=True)
class LoadProfile:
    """One load profile; ``None`` thresholds fall back to the ``[load]`` section's."""

    users: int
    spawn_rate: float
    run_time: int  # seconds ("2m", "1h" accepted in the file)
    min_rps: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    error_rate: float | None = None


DEFAULT_PROFILES: dict[str, LoadProfile] = {
    "smoke": LoadProfile(users=10, spawn_rate=2, run_time=120),
    "baseline": LoadProfile(users=50, spawn_rate=5, run_time=600),
    "stress": LoadProfile(users=200, spawn_rate=20, run_time=900),
    "spike": LoadProfile(users=500, spawn_rate=100, run_time=300),
    "endurance": LoadProfile(users=100, spawn_rate=10, run_time=3600),
}


@dataclass(frozen=True)
class LoadSettings:
    p95_ms: float = 1000
    p99_ms: float = 2000
    error_rate: float = 0.01
    min_rps: float = 100
    ai_p95_ms: float = 3000
    ai_p99_ms: float = 5000
    ai_pattern: str = "^/api/ai/"
    workers: int = field(default=0, metadata={"min": 0})
    wait_min: float = 0.5  # think time between tasks, seconds (uniform in [wait_min, wait_max])
    wait_max: float = 1.5
    paths: tuple[str, ...] = ()  # route overrides "key=/path", e.g. "product=/v2/items/{id}"
    max_cpu_ratio: float = 0.9  # generator CPU / wall above this -> run invalid (saturated)
    max_loop_lag_ms: float = 100  # generator event-loop lag p95 above this -> run invalid
    # share of journey users logging into seeded accounts, if the target offers them
    returning: float = field(default=0.9, metadata={"min": 0})
    remembered: float = field(default=0.9, metadata={"min": 0})  # ...of them still logged in
    stress_steps: str = ""  # stress: "50,100,150,200" users; "" four equal steps; "off"
    drift_p95: float = field(default=0.5, metadata={"min": 0})  # endurance: last/first tenth
    drift_min_ms: float = field(default=50, metadata={"min": 0})  # ...and at least this much
    drift_error_rate: float = field(default=0.01, metadata={"min": 0})  # absolute increase
    drift_memory: float = field(default=0.5, metadata={"min": 0})  # site memory, relative
    profiles: Mapping[str, LoadProfile] = field(
        default_factory=lambda: types.MappingProxyType(dict(DEFAULT_PROFILES))
    )


@dataclass(frozen=True)
class AcmeSettings:
    directory: str | None = _url(default=None)
    email: str | None = None
    ca_bundle: str | None = _path(default=None)
    webroot: str | None = _path(default=None)
    reload_command: str | None = None
    key_type: str = _choice("ecdsa", "rsa", default="ecdsa")
    cert_dir: str = _path(default="ssl")  # live/DOMAIN/{fullchain,privkey}.pem, archive/, renewal/
    renew_schedule: str = "0 3 * * *"
    renew_log: str = _path(default="/var/log/ssl_renewal.log")
    expected_issuer: str | None = None  # regex on the issuer DN; default: Let's Encrypt


@dataclass(frozen=True)
class MonitoringSettings:
    prometheus_url: str | None = _url(default=None)
    alertmanager_url: str | None = _url(default=None)
    grafana_url: str | None = _url(default=None)
    uptime_url: str | None = _url(default=None)
    sentry_dsn: str | None = None
    metrics_url: str | None = _url(default=None)  # the app's /metrics, if reachable from here
    grafana_token: str | None = None  # API token (use ${GRAFANA_TOKEN}); else $GRAFANA_TOKEN


@dataclass(frozen=True)
class SecuritySettings:
    env_file: str = _path(default=".env.production")
    public_address: str | None = None
    waf: bool = False


@dataclass(frozen=True)
class ChecklistSettings:
    attestation_max_age_days: int = 180


_SECTIONS: dict[str, type] = {
    "site": SiteSettings,
    "tls": TlsSettings,
    "http": HttpSettings,
    "database": DatabaseSettings,
    "pgbouncer": PgBouncerSettings,
    "s3": S3Settings,
    "backup": BackupSettings,
    "load": LoadSettings,
    "acme": AcmeSettings,
    "monitoring": MonitoringSettings,
    "security": SecuritySettings,
    "checklist": ChecklistSettings,
}


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know; build it with :func:`load_settings`."""

    target: str = _choice("local", "docker", "external", default="local")
    url: str | None = _url(default=None)
    http_url: str | None = _url(default=None)
    resolve: tuple[str, ...] = field(default=(), metadata={"kind": "resolve"})
    ca_bundle: str | None = _path(default=None)
    report_dir: str = _path(default="reports")
    load_duration: int | None = field(default=None, metadata={"min": 1})
    waivers: str | None = _path(default=None)
    attestations: str | None = _path(default=None)
    release: str | None = None
    commit: str | None = None
    host_checks: bool = False
    site: SiteSettings = field(default_factory=SiteSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    pgbouncer: PgBouncerSettings = field(default_factory=PgBouncerSettings)
    s3: S3Settings = field(default_factory=S3Settings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    load: LoadSettings = field(default_factory=LoadSettings)
    acme: AcmeSettings = field(default_factory=AcmeSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    checklist: ChecklistSettings = field(default_factory=ChecklistSettings)
    config_path: str | None = field(default=None, metadata={"internal": True})

    @property
    def attestations_path(self) -> Path:
        """The attestation file (``attestations.toml`` next to the config when not set)."""
        if self.attestations:
            return Path(self.attestations)
        base = Path(self.config_path).parent if self.config_path else Path()
        return base / "attestations.toml"

    def secrets(self) -> list[str]:
        """Literal secret values (DSN passwords) to pass to ``mask_text(extra=...)``."""
        out: list[str] = []
        for sec in (self.database, self.pgbouncer):
            for name in ("dsn", "ai_dsn", "admin_dsn"):
                value = getattr(sec, name)
                if value:
                    pw = dsn_password(value)
                    if pw:
                        out.append(pw)
        if self.monitoring.sentry_dsn:
            user = urlsplit(self.monitoring.sentry_dsn).username
            if user:
                out.append(user)
        return out

    def describe_target(self) -> str:
        """One line for report headers: ``external https://shop.example.com``."""
        return f"{self.target} {mask_dsn(self.url)}" if self.url else self.target


# --- loading ------------------------------------------------------------------------------------


def find_config(rootdir: Path) -> Path | None:
    """``rootdir/prodcheck.toml`` if it exists."""
    candidate = rootdir / DEFAULT_CONFIG_NAME
    return candidate if candidate.is_file() else None


def load_settings(
    path: Path | None,
    overrides: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Read ``path`` (TOML, optional), apply ``overrides`` (dotted keys), validate, freeze."""
    env = dict(env or {})
    file_data: dict[str, Any] = {}
    file_base: Path | None = None
    if path is not None:
        file_data = read_toml(path)
        file_base = path.resolve().parent
        file_data = _expand(file_data, env, str(path), ())
    where_file = str(path) if path is not None else ""

    core: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    origin_core: dict[str, str] = {}

    # file layer
    for key, value in file_data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{where_file}: [{key}] must be a table, got {_show(value)}")
            sections[key].update(
                _convert_section(_SECTIONS[key], key, value, where_file, file_base)
            )
        else:
            core[key] = _convert_field(Settings, key, value, where_file, file_base, prefix="")
            origin_core[key] = "file"

    # option layer
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, key = dotted.rpartition(".")
        if section.startswith("load.profiles."):  # load.profiles.smoke.run_time=30
            name = section.removeprefix("load.profiles.")
            sections["load"]["profiles"] = _convert_profiles(
                {name: {key: value}}, "option", sections["load"].get("profiles")
            )
        elif section:
            if section not in _SECTIONS:
                raise ConfigError(
                    f"option {dotted}: unknown section [{section}]; allowed: {', '.join(_SECTIONS)}"
                )
            sections[section].update(
                _convert_section(_SECTIONS[section], section, {key: value}, "option", None)
            )
        else:
            core[key] = _convert_field(Settings, key, value, "option", None, prefix="")
            origin_core[key] = "option"

    # url implies external unless a target was given at the same or a higher layer
    if core.get("url"):
        rank = {"file": 1, "option": 2}
        url_rank = rank[origin_core["url"]]
        target_rank = rank.get(origin_core.get("target", ""), 0)
        if target_rank < url_rank:
            core["target"] = "external"
        elif core.get("target") != "external":
            raise ConfigError(
                f"url = {mask_dsn(core['url'])!r} implies target 'external' but target = "
                f"{core['target']!r}; drop one of them"
            )

    if sections["s3"].get("bucket") is None and env.get("AWS_BACKUP_BUCKET"):
        sections["s3"]["bucket"] = env["AWS_BACKUP_BUCKET"]
    built = {name: _SECTIONS[name](**values) for name, values in sections.items()}
    return Settings(**core, **built, config_path=str(path) if path is not None else None)


def read_toml(path: Path, what: str = "config") -> dict[str, Any]:
    """Parse a TOML file; ``ConfigError`` (one line) when it is missing, unreadable or invalid."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{what} file {path} not found: create it or drop the option") from None
    except OSError as exc:
        raise ConfigError(f"{what} file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax") from None


def _expand(value: Any, env: Mapping[str, str], where: str, keys: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, env, where, (*keys, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, where, keys) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        var = m.group(1)
        if var not in env:
            raise ConfigError(
                f"{where}: {_keyname(keys)} uses ${{{var}}} but environment variable {var} "
                "is not set; export it or change the value"
            )
        return env[var]

    return _VAR.sub(sub, value)


def _keyname(keys: tuple[str, ...]) -> str:
    if len(keys) >= 2:
        return f"[{'.'.join(keys[:-1])}] {keys[-1]}"
    return keys[0] if keys else "?"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields(cls: type) -> dict[str, dataclasses.Field[Any]]:
    """The plain keys of ``cls``; at the top level the section tables are not keys (but a key
    inside a section may share a section's name, as ``[site] monitoring``)."""
    sections = _SECTIONS if cls is Settings else ()
    return {
        f.name: f
        for f in dataclasses.fields(cls)
        if not f.metadata.get("internal") and f.name not in sections
    }


def _convert_section(
    cls: type, section: str, values: Mapping[str, Any], where: str, base: Path | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if cls is LoadSettings and key == "profiles":
            out[key] = _convert_profiles(value, where, None)
            continue
        out[key] = _convert_field(cls, key, value, where, base, prefix=section)
    return out


def _convert_profiles(
    value: Any, where: str, base: Mapping[str, LoadProfile] | None
) -> Mapping[str, LoadProfile]:
    """``base`` (default: the guide's profiles) updated by ``value``, a table of profile tables."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [load.profiles] must be a table of profiles")
    profiles = dict(DEFAULT_PROFILES if base is None else base)
    allowed = [f.name for f in dataclasses.fields(LoadProfile)]
    for name, raw in value.items():
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: [load.profiles.{name}] must be a table, got {_show(raw)}")
        base = dataclasses.asdict(profiles[name]) if name in profiles else {}
        for key, item in raw.items():
            label = f"[load.profiles.{name}] {key}"
            if key not in allowed:
                raise ConfigError(f"{where}: unknown key {label}; allowed: {', '.join(allowed)}")
            if key == "run_time":
                base[key] = parse_duration(item, f"{where}: {label}")
            elif key == "users":
                base[key] = _as_int(item, f"{where}: {label}")
            else:
                base[key] = _as_float(item, f"{where}: {label}")
        missing = [k for k in ("users", "spawn_rate", "run_time") if k not in base]
        if missing:
            raise ConfigError(
                f"{where}: [load.profiles.{name}] is a new profile and needs {', '.join(missing)}"
            )
        profiles[name] = LoadProfile(**base)
    return types.MappingProxyType(profiles)


def parse_duration(value: object, label: str) -> int:
    """Seconds from ``90``, ``"90s"``, ``"2m"``, ``"1h"`` or ``"1h30m"``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s?)?\s*", value)
        if m and any(m.groups()):
            h, mi, s = (int(g) if g else 0 for g in m.groups())
            return h * 3600 + mi * 60 + s
    raise ConfigError(
        f"{label} = {_show(value)}: expected a duration in seconds or like '90s', '2m', '1h'"
    )


def _as_int(value: object, label: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{label} = {_show(value)}: expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ConfigError(f"{label} = {_show(value)}: expected an integer")


def _as_float(value: object, label: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{label} = {_show(value)}: expected a number")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ConfigError(f"{label} = {_show(value)}: expected a number")


def _as_bool(value: object, label: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise ConfigError(f"{label} = {_show(value)}: expected true or false")


def _convert_field(
    cls: type, key: str, value: Any, where: str, base: Path | None, prefix: str
) -> Any:
    fields = _fields(cls)
    label = (
        f"[{prefix}] {key}"
        if prefix and where != "option"
        else (f"{prefix}.{key}" if prefix else key)
    )
    head = f"{where}: " if where != "option" else "option "
    if key not in fields:
        allowed = ", ".join(fields)
        scope = f"[{prefix}]" if prefix else "top level"
        raise ConfigError(f"{head}unknown key {label}; allowed at {scope}: {allowed}")
    f = fields[key]
    hint = typing.get_type_hints(cls)[key]
    label = f"{head}{label}"
    optional = typing.get_origin(hint) in (Union, types.UnionType) and type(
        None
    ) in typing.get_args(hint)
    inner = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
    if inner is bool:
        result: Any = _as_bool(value, label)
    elif inner is int:
        result = _as_int(value, label)
    elif inner is float:
        result = _as_float(value, label)
    elif typing.get_origin(inner) is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
            raise ConfigError(f"{label} = {_show(value)}: expected a list of strings")
        result = tuple(items)
    else:
        if where == "option" and isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # --set release=123 / commit=1234567: TOML read a number
        if not isinstance(value, str):
            raise ConfigError(f"{label} = {_show(value)}: expected a string")
        result = value
    return _validate(f, result, label, base)


def _validate(f: dataclasses.Field[Any], value: Any, label: str, base: Path | None) -> Any:
    minimum = f.metadata.get("min")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{label} = {_show(value)}: must be at least {minimum}")
    kind = f.metadata.get("kind")
    if kind == "url":
        _check_url(value, label)
    elif kind == "dsn":
        _check_dsn(value, label)
    elif kind == "choice":
        if value not in f.metadata["choices"]:
            allowed = ", ".join(f.metadata["choices"])
            raise ConfigError(f"{label} = {_show(value)}: expected one of {allowed}")
    elif kind == "resolve":
        for entry in value:
            _check_resolve(entry, label)
    elif kind == "path" and base is not None and value and not Path(value).is_absolute():
        value = str(base / value)
    return value


def _check_url(value: str, label: str) -> None:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"{label} = {mask_dsn(value)!r}: invalid port in URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{label} = {mask_dsn(value)!r}: expected an http:// or https:// URL with a host, "
            "e.g. https://shop.example.com"
        )


def _check_dsn(value: str, label: str) -> None:
    Dsn.parse(value, label, require_host=True, require_database=True)  # URL or key=value


def _check_resolve(entry: str, label: str) -> None:
    host, sep1, rest = entry.partition(":")
    port, sep2, addr = rest.partition(":")
    if not (sep1 and sep2 and host and addr and port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(
            f"{label} = {entry!r}: expected HOST:PORT:ADDR as curl's --resolve, "
            "e.g. shop.example.com:443:10.0.0.5"
        )
