"""The settings schema: frozen dataclasses, one per ``prodcheck.toml`` section.

    >>> s = Settings(url="https://shop.example.com")
    >>> s.target, s.tls.min_days, s.load.p95_ms          # a URL implies an external target
    ('external', 14, 1000)
    >>> SECTIONS["pgbouncer"] is PgBouncerSettings
    True

Field metadata drives the loader's validation (:mod:`pytest_prodcheck.config.load`): ``kind``
``url``/``dsn``/``path``/``choice``/``resolve``, ``min``, ``internal`` (not a settings key).
DSN fields are ``repr=False`` and every repr masks URL passwords and tokens, so credentials never
print (pytest shows fixture values in tracebacks). Defaults quoting the deployment guide
come from :mod:`pytest_prodcheck.guide`.
"""

from __future__ import annotations

import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_prodcheck.config.history import HistorySettings
from pytest_prodcheck.core.secrets import mask_dsn, masked_repr
from pytest_prodcheck.guide import LOAD, LOAD_PROFILES, PGBOUNCER

__all__ = [
    "DEFAULT_PROFILES",
    "ENV_BUCKET",
    "SECTIONS",
    "URL_TARGET",
    "AcmeSettings",
    "BackupSettings",
    "ChecklistSettings",
    "DatabaseSettings",
    "DockerSettings",
    "HttpSettings",
    "LoadProfile",
    "LoadSettings",
    "MonitoringSettings",
    "PgBouncerSettings",
    "S3Settings",
    "SecuritySettings",
    "Settings",
    "SiteSettings",
    "TlsSettings",
]

ENV_BUCKET = "AWS_BACKUP_BUCKET"  # the environment variable ``[s3] bucket`` defaults to
URL_TARGET = "external"  # the target a site URL implies


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
    bucket: str | None = None  # default: $AWS_BACKUP_BUCKET (ENV_BUCKET, applied by the loader)
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
    pg_bindir: str | None = _path(default=None)  # pg_dump/psql directory; default: found on PATH


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


DEFAULT_PROFILES: Mapping[str, LoadProfile] = types.MappingProxyType(
    {
        name: LoadProfile(users=p.users, spawn_rate=p.spawn_rate, run_time=p.run_time_s)
        for name, p in LOAD_PROFILES.items()
    }
)


@dataclass(frozen=True)
class LoadSettings:
    p95_ms: float = LOAD.p95_ms
    p99_ms: float = LOAD.p99_ms
    error_rate: float = LOAD.error_rate
    min_rps: float = LOAD.min_rps
    ai_p95_ms: float = LOAD.ai_p95_ms
    ai_p99_ms: float = LOAD.ai_p99_ms
    ai_pattern: str = LOAD.ai_pattern
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

    def secrets(self) -> list[str]:
        """The token and the Sentry DSN's key (its user part), for masking."""
        out = [self.grafana_token] if self.grafana_token else []
        user = urlsplit(self.sentry_dsn).username if self.sentry_dsn else None
        return out + ([user] if user else [])

    def __repr__(self) -> str:
        return masked_repr(self, extra=self.secrets())


@dataclass(frozen=True)
class SecuritySettings:
    env_file: str = _path(default=".env.production")
    public_address: str | None = None
    waf: bool = False


@dataclass(frozen=True)
class ChecklistSettings:
    attestation_max_age_days: int = 180


#: The public image tried first for each service, and what is built when it cannot be had.
PUBLIC_IMAGES: dict[str, str] = {
    "base": "debian:bookworm-slim",
    "postgres": "postgres:15",
    "nginx": "nginx:1.25",
    "s3": "motoserver/moto:latest",
}


@dataclass(frozen=True)
class DockerSettings:
    """``[docker]``: image names (``""`` = build from ``docker/<service>``; a public name is used
    when present or pullable, the default ones fall back to a local build) and the private
    engine's data root (see docs/docker.md)."""

    base_image: str = PUBLIC_IMAGES["base"]
    postgres_image: str = PUBLIC_IMAGES["postgres"]
    nginx_image: str = PUBLIC_IMAGES["nginx"]
    s3_image: str = PUBLIC_IMAGES["s3"]
    pgbouncer_image: str = ""
    app_image: str = ""
    pebble_image: str = ""
    data_root: str = field(  # the private engine's images (the cache)
        default_factory=lambda: os.environ.get(
            "PRODCHECK_DOCKER_DATA_ROOT", "/var/lib/prodcheck-docker"
        )
    )
    pull_timeout: float = 30.0  # seconds to try a pull before building instead

    def image(self, service: str) -> str:
        """The configured name for ``service`` (``"postgres"``, ``"app"``, …)."""
        return str(getattr(self, f"{service}_image"))

    def is_default(self, service: str) -> bool:
        """True when ``service``'s name is the default (so a fallback build is allowed)."""
        for f in fields(self):
            if f.name == f"{service}_image":
                return bool(getattr(self, f.name) == f.default)
        return False


SECTIONS: Mapping[str, type] = {
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
    "history": HistorySettings,
    "docker": DockerSettings,
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
    history: HistorySettings = field(default_factory=HistorySettings)
    docker: DockerSettings = field(default_factory=DockerSettings)
    config_path: str | None = field(default=None, metadata={"internal": True})

    def __post_init__(self) -> None:
        # the one place the rule lives: a site URL means an external deployment; a loader that
        # sees an explicit other target next to a URL refuses it (see config.load)
        if self.url and self.target == "local":
            object.__setattr__(self, "target", URL_TARGET)

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
        dsns = [
            value
            for sec in (self.database, self.pgbouncer)
            for value in (sec.dsn, sec.ai_dsn, sec.admin_dsn)
            if value
        ]
        if dsns:
            from pytest_prodcheck.core.dsn import dsn_password  # psycopg: only when needed

            out.extend(pw for pw in map(dsn_password, dsns) if pw)
        out.extend(self.monitoring.secrets())
        return out

    def __repr__(self) -> str:  # pytest prints fixture values: never a password or token
        return masked_repr(self, extra=self.secrets())

    def describe_target(self) -> str:
        """One line for report headers: ``external https://shop.example.com``."""
        return f"{self.target} {mask_dsn(self.url)}" if self.url else self.target
