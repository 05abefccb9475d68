"""The embedded local stack: every service as a child process on free loopback ports.

    >>> with LocalStack() as ep:                  # ~1 s warm; everything stopped on exit
    ...     ep.site_url, ep.pgbouncer_dsn, ep.s3.endpoint_url
    ('https://shop.test:41234', 'postgresql://app:…@127.0.0.1:41236/ecommerce', 'http://127.0.0.1:…')

What starts (in one temp dir on tmpfs, on free ports):

- PostgreSQL 15 (databases ``ecommerce`` + ``ai``, app role ``app``, shop schema + seed),
- PgBouncer with the guide's settings (SCRAM secrets in the auth file),
- the reference shop (``python -m pytest_prodcheck.shop serve``) through PgBouncer,
- nginx with the guide's hardening, a local CA and leaf for the four names,
- moto's S3 server with the backup bucket,
- Pebble + pebble-challtestsrv for ACME (HTTP-01 validated against nginx's plain-HTTP port),
- Prometheus + Alertmanager + exporters (:mod:`pytest_prodcheck.monitoring`), when installed.

Topology: nginx (the public side) listens on ``127.0.0.1``; PostgreSQL, PgBouncer, the shop and
nginx's plain-HTTP ``stub_status`` listen only on the internal address ``127.0.10.1`` (a stand-in
for a private network), so "database ports are not reachable on the public address" holds.
The stack also writes its ``.env.production`` (mode 0600, ``extras["env_file"]``).

Clients resolve the names themselves (``Endpoints.resolve``, curl style). Rate limits exempt
127.0.0.1 (the suite's own clients and load runs); probe them from another loopback source, e.g.
``Endpoints.extras["rate_limit_source"]`` = ``127.0.0.2``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_prodcheck.core.errors import ConfigError, ToolError
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.stack.certs import CertPaths, issue_leaf, make_ca, write_pem
from pytest_prodcheck.stack.endpoints import Endpoints, register_controls
from pytest_prodcheck.stack.nginx import NginxOptions, NginxServer
from pytest_prodcheck.stack.pgbouncer import PgBouncerOptions, PgBouncerServer
from pytest_prodcheck.stack.postgres import PostgresServer
from pytest_prodcheck.stack.s3 import DEFAULT_BUCKET, S3Server

if TYPE_CHECKING:
    from pytest_prodcheck.config import Settings
    from pytest_prodcheck.shop.process import ShopServer

SHOP_DIR = Path(__file__).resolve().parent.parent / "shop"
RATE_LIMIT_SOURCE = "127.0.0.2"
INTERNAL_HOST = "127.0.10.1"  # databases + app: not on the address the site is served on
_FALLBACK_CSS = "/* prodcheck placeholder stylesheet */\n" + "body { margin: 0; }\n" * 20


@dataclass(frozen=True)
class LocalStackOptions:
    """What the local stack starts; defaults = everything, the guide's configuration."""

    apex: str = "shop.test"
    www: str | None = None  # default www.<apex>
    api: str | None = None  # default api.<apex>
    monitoring: str | None = None  # default monitoring.<apex>
    static_path: str = "/static/app.css"
    api_path: str = "/api/products"
    nginx: NginxOptions = field(default_factory=NginxOptions)  # ports/names/paths are filled in
    pgbouncer: PgBouncerOptions = field(default_factory=PgBouncerOptions)
    bucket: str = DEFAULT_BUCKET
    s3_region: str = "us-east-1"
    s3_prefix: str = "databases/"
    shop: bool = True
    pebble: bool = True
    s3: bool = True
    with_monitoring: bool = True  # Prometheus & co., started only when installed
    shop_workers: int = 0  # 0: one per CPU core this process may run on
    timeout: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalStackOptions:
        """The defaults, honouring the site names/paths and the S3 bucket of ``settings``."""
        site, s3, d = settings.site, settings.s3, cls()
        return cls(
            apex=site.apex or d.apex,
            www=site.www or None,
            api=site.api or None,
            monitoring=site.monitoring or None,
            static_path=site.static_path or d.static_path,
            api_path=site.api_path or d.api_path,
            bucket=s3.bucket or d.bucket,
            s3_region=s3.region or d.s3_region,
            s3_prefix=s3.prefix or d.s3_prefix,
        )

    def names(self) -> tuple[str, str, str, str]:
        return (
            self.apex,
            self.www or f"www.{self.apex}",
            self.api or f"api.{self.apex}",
            self.monitoring or f"monitoring.{self.apex}",
        )


def _shop_available() -> bool:
    return (SHOP_DIR / "__main__.py").exists()


def _seed_accounts() -> str:
    from pytest_prodcheck.shop.seed import SEED_EMAIL, USERS

    return f"{SEED_EMAIL}:{USERS}"


def _unregister(stack: LocalStack) -> None:
    if stack.endpoints is not None:
        register_controls(stack.endpoints.extras["workdir"], None)


class LocalStack:
    """Start everything (in parallel where possible); :meth:`stop` stops everything.

    Use it as a context manager; the process-wide registry in :mod:`._proc` also kills every
    child on exit, SIGTERM and (via the pidfile registry) after a SIGKILL of this process.
    """

    def __init__(self, options: LocalStackOptions | None = None) -> None:
        self.options = options or LocalStackOptions()
        self.workdir: Path | None = None
        self.postgres: PostgresServer | None = None
        self.pgbouncer: PgBouncerServer | None = None
        self.nginx: NginxServer | None = None
        self.s3: S3Server | None = None
        self.pebble: Any = None
        self.monitoring: Any = None
        self.shop: ShopServer | None = None
        self.shop_port: int = 0
        self.cert_paths: CertPaths | None = None
        self.endpoints: Endpoints | None = None
        self.timings: dict[str, float] = {}
        self._prep: threading.Thread | None = None

    # -- public ------------------------------------------------------------------------------------
    def __enter__(self) -> Endpoints:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Endpoints:
        """Start every service; return once all answer (shop seeded and healthy)."""
        t0 = time.perf_counter()
        try:
            self.endpoints = self._start(t0)
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = time.perf_counter() - t0
        register_controls(self.endpoints.extras["workdir"], self.restart)
        return self.endpoints

    def restart(self, service: str, timeout: float = 10.0) -> None:
        """Restart ``service`` on the same address and config; :attr:`pgbouncer` etc. stay the
        live handles (``Endpoints.restart`` calls this). Services: ``"pgbouncer"``."""
        if service != "pgbouncer":
            raise ConfigError(f"cannot restart {service!r}: the local stack restarts pgbouncer")
        if self.pgbouncer is None:
            raise ToolError("PgBouncer is not part of this stack")
        self.pgbouncer.restart(timeout=timeout)

    def stop(self) -> None:
        """Stop everything (reverse order) and remove the temp dir; safe to call twice."""
        _unregister(self)
        if self._prep is not None and self._prep.is_alive():
            # interrupted while the template is copied: kill the copy and wait for the thread,
            # or it keeps writing into the workdir removed below (leaking it on tmpfs)
            if self.postgres is not None:
                self.postgres.cancel_prepare()
            self._prep.join(self.options.timeout)
        if self.shop is not None:
            self.shop.process.stop(signal.SIGTERM, timeout=3)
        for service in (self.monitoring, self.nginx, self.pgbouncer, self.pebble, self.s3):
            if service is not None:
                with contextlib.suppress(Exception):
                    service.stop()
        if self.postgres is not None:
            with contextlib.suppress(Exception):
                self.postgres.stop("fast")
        if self.workdir is not None:
            remove_tempdir(self.workdir)
            self.workdir = None

    def secrets(self) -> list[str]:
        """Every password of the running stack (for :func:`mask_text`)."""
        out: list[str] = []
        if self.postgres is not None:
            out += self.postgres.passwords()
        if self.pgbouncer is not None:
            out += self.pgbouncer.passwords()
        return out

    # -- the start sequence --------------------------------------------------------------------
    def _mark(self, name: str, t0: float) -> None:
        self.timings[name] = round(time.perf_counter() - t0, 4)

    def _start(self, t0: float) -> Endpoints:
        opts = self.options
        apex, www, api, monitoring = opts.names()
        work = self.workdir = make_tempdir("stack-")
        deadline = time.monotonic() + opts.timeout

        # 1. PostgreSQL: template (maybe cold build) + copy in a thread; nothing is spawned there
        self.postgres = PostgresServer(work / "postgres", host=INTERNAL_HOST)
        (work / "postgres").mkdir()
        (work / "postgres").chmod(0o711)
        prep_error: list[BaseException] = []

        def prepare() -> None:
            try:
                assert self.postgres is not None
                self.postgres.prepare()
            except BaseException as exc:
                prep_error.append(exc)

        prep = self._prep = threading.Thread(
            target=prepare, name="prodcheck-pg-prepare", daemon=True
        )
        prep.start()

        # 2. S3 (python start-up is the slowest): launch now, wait later
        if opts.s3:
            self.s3 = S3Server(
                work / "s3", bucket=opts.bucket, region=opts.s3_region, prefix=opts.s3_prefix
            )
            (work / "s3").mkdir()
            self.s3.launch()

        # 3. PgBouncer: its auth file needs only the SCRAM verifiers, known before PG starts
        pgb_opts = opts.pgbouncer
        if pgb_opts.listen_addr == "127.0.0.1":
            pgb_opts = replace(pgb_opts, listen_addr=INTERNAL_HOST)
        self.pgbouncer = PgBouncerServer(work / "pgbouncer", self.postgres, pgb_opts)
        self.pgbouncer.start()
        self._mark("pgbouncer", t0)

        # 4. the shop goes after PostgreSQL: a connect that fails before PostgreSQL is up makes
        #    PgBouncer wait server_login_retry (15 s) and the shop's pools back off exponentially.
        self.shop_port = free_port(INTERNAL_HOST)
        want_shop = opts.shop and _shop_available()

        # 5. PostgreSQL itself (spawned from this thread: PDEATHSIG is per forking thread)
        prep.join(max(0.0, deadline - time.monotonic()))
        if prep.is_alive():
            raise ToolError(f"preparing PostgreSQL took longer than {opts.timeout:g} s")
        if prep_error:
            raise prep_error[0]
        self.postgres.launch()
        self._mark("postgres", t0)
        if want_shop:
            self._launch_shop(work / "shop")

        # 6. certificates + nginx (while the shop imports)
        ca = make_ca("pytest-prodcheck local CA")
        leaf = issue_leaf(ca, [apex, www, api, monitoring])
        nginx_dir = work / "nginx"
        nginx_dir.mkdir()
        nginx_dir.chmod(0o711)
        self.cert_paths = write_pem(leaf, nginx_dir / "certs")
        nginx_opts = replace(
            opts.nginx,
            http_port=free_port(),
            https_port=free_port(),
            apex=apex,
            www=www,
            api=api,
            monitoring=monitoring,
            cert_path=str(self.cert_paths.fullchain),
            key_path=str(self.cert_paths.privkey),
            trusted_cert_path=str(self.cert_paths.ca),
            upstream_host=INTERNAL_HOST,
            upstream_port=self.shop_port,
            status_listen=opts.nginx.status_listen or f"{INTERNAL_HOST}:{free_port(INTERNAL_HOST)}",
            rate_limit_exempt=opts.nginx.rate_limit_exempt or ("127.0.0.1",),
        )
        self.nginx = NginxServer(nginx_dir, nginx_opts)
        self.nginx.write_config()
        self._copy_static(self.nginx.static_dir)
        self.nginx.start()
        self._mark("nginx", t0)

        # 7. pebble (validates HTTP-01 against nginx's plain-HTTP port)
        if opts.pebble:
            self._start_pebble(work / "pebble", nginx_opts.http_port)
            self._mark("pebble", t0)

        # 8. monitoring (scrapes the shop, nginx's stub_status and PgBouncer)
        if opts.with_monitoring:
            self._start_monitoring(work / "monitoring", nginx_opts.status_listen)
            self._mark("monitoring", t0)

        # 9. wait for the slower ones
        if self.s3 is not None:
            self.s3.wait_ready(max(1.0, deadline - time.monotonic()))
            self._mark("s3", t0)
        if self.shop is not None:
            self.shop.wait_healthy(deadline, self.secrets())
            self._mark("shop", t0)
        return self._endpoints()

    def _launch_shop(self, shop_dir: Path) -> None:
        from pytest_prodcheck.shop.process import ShopServer

        assert self.pgbouncer is not None
        shop_dir.mkdir()
        self.shop = ShopServer(
            self.pgbouncer.dsn("ecommerce"),
            self.pgbouncer.dsn("ai"),
            host=INTERNAL_HOST,
            port=self.shop_port,
            workers=self.options.shop_workers,
            log_path=shop_dir / "shop.log",
            log_level="warning",
            cwd=shop_dir,
        ).launch()

    def _copy_static(self, static_dir: Path) -> None:
        source = SHOP_DIR / "static"
        static_dir.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, static_dir, dirs_exist_ok=True)
        css = static_dir / Path(self.options.static_path).name
        if self.options.static_path.startswith("/static/") and not css.exists():
            css.write_text(_FALLBACK_CSS)
        for root, dirs, files in os.walk(static_dir):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
            for f in files:
                os.chmod(os.path.join(root, f), 0o644)

    def _start_monitoring(self, mon_dir: Path, status_listen: str) -> None:
        try:
            from pytest_prodcheck.monitoring.server import (
                MonitoringOptions,
                MonitoringStack,
                PgBouncerTarget,
                missing_binaries,
            )
        except ImportError:  # the monitoring area not installed
            return
        if missing_binaries():
            return
        assert self.pgbouncer is not None and self.cert_paths is not None
        mon_dir.mkdir()
        mon_dir.chmod(0o711)
        options = MonitoringOptions(
            shop_target=f"{INTERNAL_HOST}:{self.shop_port}" if self.shop is not None else None,
            nginx_status_url=f"http://{status_listen}/nginx_status",
            pgbouncer=PgBouncerTarget(
                self.pgbouncer.host,
                self.pgbouncer.port,
                self.pgbouncer.options.stats_user,
                self.pgbouncer.stats_password,
            ),
            certs=(self.cert_paths.fullchain,),
        )
        self.monitoring = MonitoringStack(mon_dir, options).start()

    def _write_env_file(self) -> Path:
        """The deployment's ``.env.production`` (0600): real values, no placeholders."""
        assert self.workdir and self.postgres and self.pgbouncer and self.nginx
        lines = {
            "DOMAIN": self.nginx.options.apex,
            "DATABASE_URL": self.pgbouncer.dsn("ecommerce"),
            "AI_DATABASE_URL": self.pgbouncer.dsn("ai"),
            "POSTGRES_PASSWORD": self.postgres.superuser_password,
            "APP_DB_PASSWORD": self.postgres.app_password,
            "PGBOUNCER_ADMIN_PASSWORD": self.pgbouncer.admin_password,
            "SECRET_KEY": secrets.token_urlsafe(32),
        }
        if self.s3 is not None:
            lines["AWS_BACKUP_BUCKET"] = self.s3.bucket
            lines["AWS_ENDPOINT_URL_S3"] = self.s3.endpoint_url
        path = self.workdir / ".env.production"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(f"{k}={v}\n" for k, v in lines.items()))
        return path

    def _start_pebble(self, pebble_dir: Path, http_port: int) -> None:
        try:
            from pytest_prodcheck.stack.pebble import PebbleServer
        except ImportError:  # the ACME area not installed: no ACME endpoints
            return
        pebble_dir.mkdir()
        self.pebble = PebbleServer(pebble_dir, http_port=http_port).start()
        roots = pebble_dir / "roots.pem"
        roots.write_text(self.pebble.roots_pem())

    def _endpoints(self) -> Endpoints:
        assert self.postgres and self.pgbouncer and self.nginx and self.cert_paths
        o = self.nginx.options
        resolve = tuple(
            f"{name}:{port}:127.0.0.1" for name in o.names for port in (o.https_port, o.http_port)
        )
        acme: dict[str, str | None] = {}
        if self.pebble is not None:
            acme = {
                "acme_directory": self.pebble.directory_url,
                "acme_ca_bundle": str(self.pebble.api_ca_path),
                "acme_roots": str(Path(self.pebble.workdir) / "roots.pem"),
            }
        pg, pgb = self.postgres, self.pgbouncer
        monitoring: dict[str, str | None] = {}
        if self.shop is not None:
            # the site URL needs the resolve map and the local CA, which an uptime monitor
            # (plain requests, system trust) has neither of: it polls the app's health directly
            shop = f"http://{INTERNAL_HOST}:{self.shop_port}"
            monitoring.update(metrics_url=f"{shop}/metrics", uptime_url=f"{shop}/health")
        if self.monitoring is not None:
            monitoring["prometheus_url"] = self.monitoring.prometheus_url
            monitoring["alertmanager_url"] = self.monitoring.alertmanager_url
        extras = {
            "rate_limit_source": RATE_LIMIT_SOURCE,
            "rate_limit_exempt": ",".join(o.rate_limit_exempt),
            "shop_url": f"http://{INTERNAL_HOST}:{self.shop_port}",
            # the seeded customers the load journey logs into (password: shop.seed, not here)
            "shop_seed_accounts": _seed_accounts() if self.shop is not None else "",
            "internal_host": INTERNAL_HOST,
            "app_database_url": pgb.dsn("ecommerce"),
            # the shop (shop/db.py) and prodcheck's own clients connect with
            # prepare_threshold=None: no server-side prepared statements through PgBouncer 1.18
            "app_prepared_statements": "disabled",
            "env_file": str(self._write_env_file()),
            "nginx_status_url": f"http://{o.status_listen}/nginx_status",
            "workdir": str(self.workdir),
            "pgbouncer_stats_dsn": pgb.stats_dsn,
            "pgbouncer_ini": str(pgb.ini_path),
            "nginx_conf": str(self.nginx.conf_path),
            "nginx_pid": str(self.nginx.process.pid),
        }
        return Endpoints(
            target="local",
            site_url=f"https://{o.apex}:{o.https_port}",
            http_url=f"http://{o.apex}:{o.http_port}",
            apex=o.apex,
            www=o.www,
            api=o.api,
            monitoring=o.monitoring,
            resolve=resolve,
            ca_bundle=str(self.cert_paths.ca),
            static_path=self.options.static_path,
            api_path=self.options.api_path,
            postgres_admin_dsn=pg.admin_dsn,
            postgres_dsn=pg.dsn("ecommerce"),
            postgres_ai_dsn=pg.dsn("ai"),
            pgbouncer_dsn=pgb.dsn("ecommerce"),
            pgbouncer_ai_dsn=pgb.dsn("ai"),
            pgbouncer_admin_dsn=pgb.admin_dsn,
            s3=self.s3.endpoint() if self.s3 is not None else None,
            nginx_reload_command=self.nginx.reload_command,
            webroot=str(self.nginx.webroot),
            cert_dir=str(self.cert_paths.directory),
            pg_bindir=str(pg.bindir),
            extras=extras,
            **acme,
            **monitoring,
        )
