"""What a stack provider hands to the checks: where everything is, and how to reach it.

    >>> ep = Endpoints(target="external", site_url="https://shop.example.com")
    >>> ep.require("pgbouncer_dsn", key="[pgbouncer] dsn")   # raises MissingEndpoint -> tests skip
    Traceback (most recent call last):
    ...
    pytest_prodcheck.stack.endpoints.MissingEndpoint: pgbouncer_dsn is not configured: set [pgbouncer] dsn in prodcheck.toml

Every field is plain data (str / tuple / None) so ``to_json()`` is the contract of
``prodcheck stack up --json``. DSNs are full ``postgresql://user:password@host:port/db`` URLs;
mask them with :func:`pytest_prodcheck.core.secrets.mask_dsn` before printing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_prodcheck.core.errors import ProdcheckError
from pytest_prodcheck.core.resolve import ResolveMap


class MissingEndpoint(ProdcheckError):
    """A check needs an endpoint the target does not provide (tests skip with this reason)."""


# Service controls of stacks prodcheck runs itself, keyed by ``extras["workdir"]`` (plain data
# stays plain: ``to_json()`` never sees them). The local provider registers while it runs.
_controls_lock = threading.Lock()
_controls: dict[str, Callable[[str], None]] = {}


def register_controls(key: str, restart: Callable[[str], None] | None) -> None:
    """Register (or, with ``None``, drop) the restart handle of the running stack ``key``."""
    with _controls_lock:
        if restart is None:
            _controls.pop(key, None)
        else:
            _controls[key] = restart


@dataclass(frozen=True)
class S3Endpoint:
    bucket: str
    endpoint_url: str | None = None  # None = AWS itself
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = None
    prefix: str = "databases/"


@dataclass(frozen=True)
class Endpoints:
    target: str  # "local" | "docker" | "external"
    # --- web -----------------------------------------------------------------------------------
    site_url: str | None = None  # https://shop.test:8443  (apex)
    http_url: str | None = None  # http://shop.test:8080   (plain HTTP, redirects + ACME webroot)
    apex: str | None = None  # shop.test
    www: str | None = None  # www.shop.test
    api: str | None = None  # api.shop.test
    monitoring: str | None = None  # monitoring.shop.test
    resolve: tuple[str, ...] = ()  # curl-style "HOST:PORT:ADDR"
    ca_bundle: str | None = None  # PEM file that verifies the site's chain (None = system store)
    static_path: str = "/static/app.css"  # a static file served by the web server
    api_path: str = "/api/products"  # an API path served by the app behind the web server
    # --- databases (full postgresql:// URLs with credentials) ------------------------------------
    postgres_admin_dsn: str | None = None  # superuser, direct, db "postgres"
    postgres_dsn: str | None = None  # app role, direct, main db "ecommerce"
    postgres_ai_dsn: str | None = None  # app role, direct, "ai"
    pgbouncer_dsn: str | None = None  # app role through PgBouncer, "ecommerce"
    pgbouncer_ai_dsn: str | None = None  # app role through PgBouncer, "ai"
    pgbouncer_admin_dsn: str | None = None  # PgBouncer admin console, db "pgbouncer"
    # --- storage / ACME --------------------------------------------------------------------------
    s3: S3Endpoint | None = None
    acme_directory: str | None = None  # https://127.0.0.1:14000/dir
    acme_ca_bundle: str | None = None  # PEM that verifies the ACME server's API certificate
    acme_roots: str | None = None  # PEM file: the ACME CA's issuing root(s)
    # --- monitoring -------------------------------------------------------------------------------
    prometheus_url: str | None = None  # http://127.0.0.1:9090
    alertmanager_url: str | None = None  # http://127.0.0.1:9093
    metrics_url: str | None = None  # the app's Prometheus metrics endpoint
    uptime_url: str | None = None  # what an uptime monitor polls (the app health endpoint)
    # --- local-only handles (paths into the running stack; empty elsewhere) ---------------------
    nginx_reload_command: tuple[str, ...] = ()  # argv that reloads the web server
    webroot: str | None = None  # ACME HTTP-01 webroot served at /.well-known/acme-challenge/
    cert_dir: str | None = None  # where the served fullchain.pem / privkey.pem live
    pg_bindir: str | None = None  # PostgreSQL client binaries matching the server
    extras: dict[str, str] = field(default_factory=dict)

    def require(self, name: str, key: str) -> Any:
        """Return field ``name`` or raise :class:`MissingEndpoint` naming the config ``key``."""
        value = getattr(self, name)
        if value in (None, "", ()):
            raise MissingEndpoint(f"{name} is not configured: set {key} in prodcheck.toml")
        return value

    def restart(self, service: str) -> None:
        """Restart ``service`` of the running stack on the same address, as ``systemctl restart``
        would (``"pgbouncer"``); returns once it accepts connections again.

            >>> prodcheck_stack.restart("pgbouncer")     # the failover rehearsal

        Only a stack prodcheck started itself can be restarted: elsewhere this raises
        :class:`MissingEndpoint` (the test skips with the reason).
        """
        with _controls_lock:
            control = _controls.get(self.extras.get("workdir", ""))
        if control is None:
            raise MissingEndpoint(
                f"restarting {service} needs a stack prodcheck runs itself (target local, "
                f"not {self.target}): rehearse it on the deployment in a maintenance window"
            )
        control(service)

    @property
    def names(self) -> tuple[str, ...]:
        """The configured host names (apex, www, api, monitoring), those that are set."""
        return tuple(n for n in (self.apex, self.www, self.api, self.monitoring) if n)

    def resolve_map(self) -> ResolveMap:
        """The curl-style resolve entries, parsed: ``.lookup("shop.test", 8443)`` → ``"127.0.0.1"``
        (``.get((host, port), default)`` as a dict; wildcards such as ``*.shop.test:*:ADDR``)."""
        return ResolveMap.parse(self.resolve)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["resolve"] = list(self.resolve)
        data["nginx_reload_command"] = list(self.nginx_reload_command)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)
