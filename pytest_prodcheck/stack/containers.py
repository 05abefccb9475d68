"""The ``docker`` provider: the reference stack as containers, through the Docker SDK.

    >>> reason = docker_unavailable_reason()       # None when an engine answers or can be started
    >>> with DockerStack(settings) as endpoints:   # DockerUnavailable (a skip) when it cannot run
    ...     endpoints.site_url                     # 'https://shop.test:41234'

What runs (images from :mod:`pytest_prodcheck.dockerhost.images`: public when pullable, else
built here from a Debian base; configs rendered from the same templates as the local stack):

- ``postgres`` (15, roles/databases as the local stack, the shop's schema + seed) and moto's S3
  server on a bridge network of this run, published on the internal loopback address
  ``127.0.10.1`` only (so the database ports are closed on the site's address, 127.0.0.1);
- ``pgbouncer`` (the guide's settings, SCRAM secrets) and the shop (``app``) with **host
  networking** on ``127.0.10.1``, and ``nginx`` with host networking on ``127.0.0.1``. The checks
  judge client addresses there: nginx's per-address rate limits must apply to the probes as to
  real visitors, and PgBouncer's ``SHOW CLIENTS`` must list the prober's own connection.
  Published through docker-proxy every client would arrive from the bridge gateway (one shared
  rate-limit bucket, an unrecognisable client). As on the local stack, 127.0.0.1 (the suite's
  own clients) is exempt from the rate limits and the rate-limit probe sends from fresh
  127.x.y.z addresses, which are limited;
- Pebble + its mock DNS (host networking), validating HTTP-01 through that nginx.

Everything is labelled with the run id and removed on exit, Ctrl-C and SIGTERM; a SIGKILLed run's
leftovers are removed by the next run. The engine: ``$DOCKER_HOST``'s, the system one, or a
private ``dockerd`` started for the run (:mod:`pytest_prodcheck.dockerhost.engine`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.core.secrets import mask_text
from pytest_prodcheck.dockerhost.errors import DockerUnavailable
from pytest_prodcheck.stack.certs import issue_leaf, make_ca, write_pem
from pytest_prodcheck.stack.endpoints import (
    Endpoints,
    MissingEndpoint,
    S3Endpoint,
    register_controls,
)
from pytest_prodcheck.stack.nginx import NginxOptions, render_nginx_conf
from pytest_prodcheck.stack.pgbouncer import PgBouncerOptions, render_pgbouncer_ini, render_userlist
from pytest_prodcheck.stack.postgres import DEFAULT_SETTINGS, dsn, new_password, scram_verifier
from pytest_prodcheck.stack.s3 import DEFAULT_BUCKET, DUMMY_KEY_ID, DUMMY_SECRET

__all__ = [
    "DOCKER_DIR",
    "DockerStack",
    "DockerTargetUnavailable",
    "DockerUnavailable",
    "container_monitor",
    "docker_unavailable_reason",
]

DOCKER_DIR = Path(__file__).resolve().parents[2] / "docker"
SHOP_STATIC = Path(__file__).resolve().parent.parent / "shop" / "static"
INTERNAL_HOST = "127.0.10.1"  # databases, app, S3: not on the address the site is served on
PUBLIC_HOST = "127.0.0.1"  # nginx
SERVICE_UID = 999  # postgres/pgbouncer in our images (as in the official postgres image)
SERVICES = ("postgres", "pgbouncer", "nginx", "app", "s3", "pebble")


class DockerTargetUnavailable(DockerUnavailable, MissingEndpoint):
    """The docker target cannot run here: exit 2 from ``prodcheck``, a skip (with this one-line
    reason) for the tests that need the stack."""


def docker_unavailable_reason(timeout: float = 2.0) -> str | None:
    """Why the docker target cannot run here, or None (an engine answers, or one can start)."""
    from pytest_prodcheck.dockerhost.engine import locate, start_blocker

    host, reason = locate()
    if host is not None:
        return None
    if os.environ.get("DOCKER_HOST"):
        return f"{reason}: start that engine, or unset DOCKER_HOST"
    blocker = start_blocker()
    return f"{reason} and {blocker}" if blocker else None


_tty: Any = None


def tty_progress(line: str) -> None:
    """Default progress: builds and the engine start can take minutes, and pytest captures
    stdout/stderr while the stack fixture starts, so long steps go to the terminal (/dev/tty)
    when there is one; container starts stay quiet."""
    global _tty
    if not line.startswith(("docker: build", "docker: base", "docker: starting", "docker: priv")):
        return
    if _tty is None:
        try:
            _tty = open("/dev/tty", "w")  # noqa: SIM115 - kept for the process
        except OSError:
            _tty = False
    if _tty:
        with contextlib.suppress(OSError):
            _tty.write(f"prodcheck {line}\n")
            _tty.flush()


def _http_ok(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=2) as resp:
        return bool(resp.status == 200)


def _pg_ready(admin_dsn: str, query: str = "SELECT 1") -> bool:
    import psycopg

    with psycopg.connect(admin_dsn, connect_timeout=2, autocommit=True) as conn:
        conn.execute(query.encode())
    return True


def _chmod_tree(path: Path, dirs: int = 0o755, files: int = 0o644) -> None:
    for root, dnames, fnames in os.walk(path):
        os.chmod(root, dirs)
        for f in fnames:
            os.chmod(os.path.join(root, f), files)
        for d in dnames:
            os.chmod(os.path.join(root, d), dirs)


class DockerStack:
    """Context manager yielding :class:`Endpoints` for the containerised reference stack.

    ``progress`` gets one line per step (engine start, image builds, containers); ``timings``
    holds when each part was ready (seconds from start).
    """

    def __init__(
        self,
        settings: Any = None,
        *,
        apex: str = "shop.test",
        progress: Any = None,
        nginx: NginxOptions | None = None,
        pgbouncer: PgBouncerOptions | None = None,
        pebble: bool = True,
        timeout: float = 120.0,
    ) -> None:
        from pytest_prodcheck.dockerhost.settings import docker_settings

        self.settings = settings
        site = getattr(settings, "site", None)
        self.apex = getattr(site, "apex", None) or apex
        s3 = getattr(settings, "s3", None)
        self.bucket = getattr(s3, "bucket", None) or DEFAULT_BUCKET
        self.docker = docker_settings(settings)
        self.progress = progress or tty_progress
        self.nginx_options = nginx or NginxOptions()
        self.pgbouncer_options = pgbouncer or PgBouncerOptions()
        self.want_pebble = pebble
        self.timeout = timeout
        self.workdir: Path | None = None
        self.containers: dict[str, Any] = {}
        self.images: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.endpoints: Endpoints | None = None
        self.run_id = ""
        self._engine_cm: Any = None
        self.engine: Any = None
        self._guard: Any = None
        self._network: Any = None
        self._secrets: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Endpoints:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Endpoints:
        t0 = time.monotonic()
        try:
            self.endpoints = self._start(t0)
        except DockerUnavailable as exc:
            self.stop()
            if isinstance(exc, DockerTargetUnavailable):
                raise
            raise DockerTargetUnavailable(str(exc)) from None
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = round(time.monotonic() - t0, 3)
        register_controls(self.endpoints.extras["workdir"], self.restart)
        return self.endpoints

    def stop(self) -> None:
        """Remove every container/network of this run, stop a private engine we started."""
        if self.endpoints is not None:
            register_controls(self.endpoints.extras["workdir"], None)
        if self._guard is not None:
            self._guard.close()
            self._guard = None
        self.containers.clear()
        self._network = None
        if self._engine_cm is not None:
            cm, self._engine_cm = self._engine_cm, None
            with contextlib.suppress(Exception):
                cm.__exit__(None, None, None)
        if self.workdir is not None:
            remove_tempdir(self.workdir)
            self.workdir = None

    def secrets(self) -> list[str]:
        return list(self._secrets)

    def restart(self, service: str, timeout: float = 15.0) -> None:
        """Restart ``service`` (``"pgbouncer"``) in place: same container, address and port."""
        if service != "pgbouncer" or "pgbouncer" not in self.containers:
            raise ToolError(f"cannot restart {service!r}: the docker stack restarts pgbouncer")
        from pytest_prodcheck.dockerhost.runner import wait_until

        container = self.containers["pgbouncer"]
        container.restart(timeout=5)
        assert self.endpoints is not None and self.endpoints.pgbouncer_admin_dsn
        admin = self.endpoints.pgbouncer_admin_dsn
        wait_until(container, lambda: _pg_ready(admin, "SHOW VERSION"), timeout, what="PgBouncer")

    # -- the start sequence ------------------------------------------------------------------
    def _mark(self, name: str, t0: float) -> None:
        self.timings[name] = round(time.monotonic() - t0, 3)

    def _say(self, line: str) -> None:
        self.progress(line)

    def _start(self, t0: float) -> Endpoints:
        from pytest_prodcheck.dockerhost.cleanup import RunGuard
        from pytest_prodcheck.dockerhost.engine import engine_session
        from pytest_prodcheck.dockerhost.images import ensure_images
        from pytest_prodcheck.dockerhost.labels import new_run_id, reap_dead, run_labels
        from pytest_prodcheck.dockerhost.runner import start_container, wait_until

        self._engine_cm = engine_session(self.docker.data_root, progress=self._say)
        self.engine = self._engine_cm.__enter__()
        client = self.engine.client()
        self._mark("engine", t0)
        for line in reap_dead(client):
            self._say(f"docker: {line}")
        services = [s for s in SERVICES if s != "pebble" or self.want_pebble]
        self.images = ensure_images(client, self.docker, services, progress=self._say)
        img = {k: v.ref for k, v in self.images.items()}
        self._mark("images", t0)

        run_id = self.run_id = new_run_id()
        prefix = f"prodcheck-{run_id}"
        self._guard = RunGuard(client, run_id)
        work = self.workdir = make_tempdir("docker-")
        names = (self.apex, f"www.{self.apex}", f"api.{self.apex}", f"monitoring.{self.apex}")
        su_pw, app_pw = new_password(), new_password()
        admin_pw, stats_pw = new_password(), new_password()
        self._secrets = [su_pw, app_pw, admin_pw, stats_pw]
        app_secret = scram_verifier(app_pw)  # one verifier in PostgreSQL and in PgBouncer
        ports = {k: free_port(INTERNAL_HOST) for k in ("postgres", "pgbouncer", "app", "s3")}
        http_port, https_port = free_port(PUBLIC_HOST), free_port(PUBLIC_HOST)
        status_port = free_port(INTERNAL_HOST)
        self._network = client.networks.create(
            prefix, driver="bridge", labels=run_labels("stack", run_id), check_duplicate=True
        )

        def run(service: str, image: str, **kw: Any) -> Any:
            self._say(f"docker: start {service} ({image})")
            c = start_container(client, image, name=f"{prefix}-{service}", run_id=run_id, **kw)
            self.containers[service] = c
            return c

        # 1. PostgreSQL (initdb + roles on first start: ~2-4 s)
        init = work / "initdb"
        init.mkdir()
        (init / "10-roles.sql").write_text(
            f"CREATE ROLE app LOGIN PASSWORD '{app_secret}';\n"
            "CREATE DATABASE ecommerce OWNER app;\nCREATE DATABASE ai OWNER app;\n"
        )
        _chmod_tree(init)
        pg_flags = [
            arg for key, value in DEFAULT_SETTINGS.items() for arg in ("-c", f"{key}={value}")
        ]
        pg = run(
            "postgres",
            img["postgres"],
            network=self._network,
            aliases=("postgres",),
            ports={5432: (INTERNAL_HOST, ports["postgres"])},
            # a small WAL segment, as the local template: min_wal_size=2MB needs it
            env={"POSTGRES_PASSWORD": su_pw, "POSTGRES_INITDB_ARGS": "--wal-segsize=1"},
            command=["postgres", *pg_flags],
            volumes={str(init): {"bind": "/docker-entrypoint-initdb.d", "mode": "ro"}},
        )

        # 2. S3 (moto) and Pebble start meanwhile
        s3 = run(
            "s3",
            img["s3"],
            network=self._network,
            ports={5000: (INTERNAL_HOST, ports["s3"])},
            env={"AWS_ACCESS_KEY_ID": DUMMY_KEY_ID, "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET},
            entrypoint=["moto_server"],
            command=["-H", "0.0.0.0", "-p", "5000"],
        )
        pebble = None
        if self.want_pebble:
            pebble = self._start_pebble(client, img["pebble"], work / "pebble", http_port, prefix)

        # 3. nginx on the host's loopback (certificates from a local CA, like the local stack)
        nginx_dir = work / "nginx"
        nginx = self._start_nginx(
            run, img["nginx"], nginx_dir, names, http_port, https_port, ports["app"], status_port
        )

        # 4. wait for PostgreSQL, then the shop's schema + seed (from here, straight to PG)
        admin_dsn = dsn("postgres", su_pw, ports["postgres"], "postgres", INTERNAL_HOST)
        wait_until(pg, lambda: _pg_ready(admin_dsn), self.timeout, what="PostgreSQL")
        self._mark("postgres", t0)
        direct = {
            db: dsn("app", app_pw, ports["postgres"], db, INTERNAL_HOST)
            for db in ("ecommerce", "ai")
        }
        self._migrate(direct["ecommerce"], direct["ai"])
        self._mark("migrate", t0)

        # 5. PgBouncer with the guide's settings, then the shop through it
        pgb_dir = work / "pgbouncer"
        pgb_dir.mkdir()
        (pgb_dir / "pgbouncer.ini").write_text(
            render_pgbouncer_ini(
                replace(
                    self.pgbouncer_options, listen_addr=INTERNAL_HOST, server_host=INTERNAL_HOST
                ),
                server_port=ports["postgres"],
                listen_port=ports["pgbouncer"],
                auth_file="/etc/pgbouncer/userlist.txt",
            )
        )
        (pgb_dir / "userlist.txt").write_text(
            render_userlist(
                {
                    "app": app_secret,
                    self.pgbouncer_options.admin_user: scram_verifier(admin_pw),
                    self.pgbouncer_options.stats_user: scram_verifier(stats_pw),
                }
            )
        )
        for path in (pgb_dir, pgb_dir / "pgbouncer.ini", pgb_dir / "userlist.txt"):
            os.chown(path, SERVICE_UID, SERVICE_UID)
            path.chmod(0o700 if path.is_dir() else 0o600)
        pgb = run(
            "pgbouncer",
            img["pgbouncer"],
            host_network=True,  # SHOW CLIENTS lists each client's own address and port
            volumes={str(pgb_dir): {"bind": "/etc/pgbouncer", "mode": "ro"}},
        )
        pgb_port = ports["pgbouncer"]
        pgb_admin = dsn(
            self.pgbouncer_options.admin_user, admin_pw, pgb_port, "pgbouncer", INTERNAL_HOST
        )
        wait_until(
            pgb, lambda: _pg_ready(pgb_admin, "SHOW VERSION"), self.timeout, what="PgBouncer"
        )
        self._mark("pgbouncer", t0)
        pooled = {db: dsn("app", app_pw, pgb_port, db, INTERNAL_HOST) for db in ("ecommerce", "ai")}
        app = run(
            "app",
            img["app"],
            host_network=True,
            env={"PRODCHECK_SHOP_DSN": pooled["ecommerce"], "PRODCHECK_SHOP_AI_DSN": pooled["ai"]},
            command=["python", "-m", "pytest_prodcheck.shop", "serve", "--host", INTERNAL_HOST,
                     "--port", str(ports["app"]), "--workers", "1", "--log-level", "warning"],
        )  # fmt: skip

        # 6. wait for the rest
        shop_url = f"http://{INTERNAL_HOST}:{ports['app']}"
        s3_url = f"http://{INTERNAL_HOST}:{ports['s3']}"
        wait_until(s3, lambda: _http_ok(f"{s3_url}/moto-api/data.json"), self.timeout, what="S3")
        self._create_bucket(s3_url)
        self._mark("s3", t0)
        wait_until(app, lambda: _http_ok(f"{shop_url}/health"), self.timeout, what="the shop")
        self._mark("app", t0)
        https_ok = f"http://{INTERNAL_HOST}:{status_port}/nginx_status"
        wait_until(nginx, lambda: _http_ok(https_ok), self.timeout, what="nginx")
        self._mark("nginx", t0)
        acme: dict[str, str | None] = {}
        if pebble is not None:
            roots = work / "pebble" / "roots.pem"
            roots.write_text(pebble.roots_pem())
            acme = {
                "acme_directory": pebble.directory_url,
                "acme_ca_bundle": str(pebble.api_ca_path),
                "acme_roots": str(roots),
            }
            self._mark("pebble", t0)

        host = INTERNAL_HOST
        resolve = tuple(f"{n}:{p}:{PUBLIC_HOST}" for n in names for p in (https_port, http_port))
        extras = {
            "rate_limit_exempt": PUBLIC_HOST,
            "shop_url": shop_url,
            "internal_host": INTERNAL_HOST,
            "app_database_url": pooled["ecommerce"],  # exactly what the shop connects with
            "app_prepared_statements": "disabled",  # the shop connects with prepare_threshold=None
            "env_file": str(self._write_env_file(work, su_pw, app_pw, admin_pw, pgb_port, s3_url)),
            "nginx_status_url": f"http://{INTERNAL_HOST}:{status_port}/nginx_status",
            "workdir": str(work),
            "pgbouncer_stats_dsn": dsn(
                self.pgbouncer_options.stats_user, stats_pw, pgb_port, "pgbouncer", host
            ),
            "pgbouncer_ini": str(pgb_dir / "pgbouncer.ini"),
            "nginx_conf": str(nginx_dir / "conf" / "nginx.conf"),
            "nginx_pid": str(nginx.pid),
            "docker_host": self.engine.host,
            "docker_run": self.run_id,
            "docker_containers": ",".join(c.name for c in self.containers.values()),
        }
        return Endpoints(
            target="docker",
            site_url=f"https://{names[0]}:{https_port}",
            http_url=f"http://{names[0]}:{http_port}",
            apex=names[0],
            www=names[1],
            api=names[2],
            monitoring=names[3],
            resolve=resolve,
            ca_bundle=str(nginx_dir / "certs" / "ca.pem"),
            postgres_admin_dsn=admin_dsn,
            postgres_dsn=direct["ecommerce"],
            postgres_ai_dsn=direct["ai"],
            pgbouncer_dsn=dsn("app", app_pw, pgb_port, "ecommerce", host),
            pgbouncer_ai_dsn=dsn("app", app_pw, pgb_port, "ai", host),
            pgbouncer_admin_dsn=pgb_admin,
            s3=S3Endpoint(
                bucket=self.bucket,
                endpoint_url=s3_url,
                access_key_id=DUMMY_KEY_ID,
                secret_access_key=DUMMY_SECRET,
            ),
            metrics_url=f"{shop_url}/metrics",
            uptime_url=f"{shop_url}/health",
            nginx_reload_command=("kill", "-HUP", str(nginx.pid)),
            webroot=str(nginx_dir / "webroot"),
            cert_dir=str(nginx_dir / "certs"),
            pg_bindir=_pg_bindir(),
            extras=extras,
            **acme,  # type: ignore[arg-type]
        )

    # -- parts ---------------------------------------------------------------------------------
    def _migrate(self, main_dsn: str, ai_dsn: str) -> None:
        """The shop's schema + seed (``python -m pytest_prodcheck.shop migrate``)."""
        env = {
            **os.environ,
            "PRODCHECK_SHOP_DSN": main_dsn,
            "PRODCHECK_SHOP_AI_DSN": ai_dsn,
        }
        self._say("docker: shop migrate (schema + seed)")
        res = subprocess.run(
            [sys.executable, "-m", "pytest_prodcheck.shop", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=self.timeout,
        )
        if res.returncode != 0:
            tail = " | ".join(res.stderr.strip().splitlines()[-2:])
            raise ToolError(f"the shop migration failed: {mask_text(tail, extra=self._secrets)}")

    def _create_bucket(self, s3_url: str) -> None:
        req = urllib.request.Request(f"{s3_url}/{self.bucket}", method="PUT")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=10):
                pass
        except OSError as exc:
            raise ToolError(
                f"creating S3 bucket {self.bucket!r} on {s3_url} failed: {exc}"
            ) from None

    def _start_nginx(
        self,
        run: Any,
        image: str,
        nginx_dir: Path,
        names: tuple[str, str, str, str],
        http_port: int,
        https_port: int,
        app_port: int,
        status_port: int,
    ) -> _Nginx:
        for sub in ("conf", "logs", "tmp", "static", "webroot/.well-known/acme-challenge"):
            (nginx_dir / sub).mkdir(parents=True, exist_ok=True)
        nginx_dir.chmod(0o711)
        ca = make_ca("pytest-prodcheck docker CA")
        certs = write_pem(issue_leaf(ca, list(names)), nginx_dir / "certs")
        if SHOP_STATIC.is_dir():
            shutil.copytree(SHOP_STATIC, nginx_dir / "static", dirs_exist_ok=True)
        _chmod_tree(nginx_dir / "static")
        _chmod_tree(nginx_dir / "webroot")
        opts = replace(
            self.nginx_options,
            listen_addr=PUBLIC_HOST,
            http_port=http_port,
            https_port=https_port,
            apex=names[0],
            www=names[1],
            api=names[2],
            monitoring=names[3],
            cert_path=str(certs.fullchain),
            key_path=str(certs.privkey),
            trusted_cert_path=str(certs.ca),
            upstream_host=INTERNAL_HOST,
            upstream_port=app_port,
            static_dir=str(nginx_dir / "static"),
            webroot=str(nginx_dir / "webroot"),
            status_listen=f"{INTERNAL_HOST}:{status_port}",
            rate_limit_exempt=self.nginx_options.rate_limit_exempt or (PUBLIC_HOST,),
            user="www-data www-data",
            foreground=True,
        )
        conf = nginx_dir / "conf" / "nginx.conf"
        conf.write_text(render_nginx_conf(opts, nginx_dir))
        container = run(
            "nginx",
            image,
            host_network=True,
            command=["nginx", "-c", str(conf), "-e", "stderr"],
            volumes={str(nginx_dir): {"bind": str(nginx_dir), "mode": "rw"}},
        )
        return _Nginx(container, opts)

    def _start_pebble(
        self, client: Any, image: str, pebble_dir: Path, http_port: int, prefix: str
    ) -> Any:
        from pytest_prodcheck.stack.pebble_container import ContainerPebble

        pebble_dir.mkdir()
        self._say(f"docker: start pebble ({image})")
        pebble = ContainerPebble(
            client, image, pebble_dir, http_port=http_port, prefix=prefix, run_id=self.run_id
        )
        pebble.start()
        for proc in pebble.processes:
            self.containers[proc.name] = proc.container
        return pebble

    def _write_env_file(
        self, work: Path, su_pw: str, app_pw: str, admin_pw: str, pgb_port: int, s3_url: str
    ) -> Path:
        """The deployment's ``.env.production`` (0600): real values, no placeholders."""
        lines = {
            "DOMAIN": self.apex,
            "DATABASE_URL": dsn("app", app_pw, pgb_port, "ecommerce", INTERNAL_HOST),
            "AI_DATABASE_URL": dsn("app", app_pw, pgb_port, "ai", INTERNAL_HOST),
            "POSTGRES_PASSWORD": su_pw,
            "APP_DB_PASSWORD": app_pw,
            "PGBOUNCER_ADMIN_PASSWORD": admin_pw,
            "SECRET_KEY": secrets.token_urlsafe(32),
            "AWS_BACKUP_BUCKET": self.bucket,
            "AWS_ENDPOINT_URL_S3": s3_url,
        }
        path = work / ".env.production"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(f"{k}={v}\n" for k, v in lines.items()))
        return path


class _Nginx:
    """The nginx container: its master's host pid, reload."""

    def __init__(self, container: Any, options: NginxOptions) -> None:
        self.container = container
        self.options = options

    @property
    def pid(self) -> int:
        self.container.reload()
        return int(self.container.attrs["State"]["Pid"])


def _pg_bindir() -> str | None:
    """Host PostgreSQL 15 client binaries (pg_dump/pg_restore for backups), when installed."""
    from pytest_prodcheck.stack.postgres import PG_BINDIR

    return str(PG_BINDIR) if Path(PG_BINDIR, "pg_dump").exists() else None


@contextlib.contextmanager
def container_monitor(endpoints: Endpoints, out_dir: Path) -> Iterator[Any]:
    """Sample the docker target's containers during a load run (a no-op on other targets).

    >>> with container_monitor(prodcheck_stack, plan.spec.out_dir) as monitor:
    ...     outcome = execute(plan)
    >>> monitor.summary, monitor.html     # '' / None when nothing was sampled
    """
    monitor = _Monitor()
    names = [n for n in endpoints.extras.get("docker_containers", "").split(",") if n]
    host = endpoints.extras.get("docker_host")
    if endpoints.target != "docker" or not names or not host:
        yield monitor
        return
    from pytest_prodcheck.dockerhost.sdk import sdk
    from pytest_prodcheck.dockerhost.stats import StatsSampler

    client = sdk().DockerClient(base_url=host, timeout=60)
    try:
        with StatsSampler(client, names) as sampler:
            yield monitor
        monitor.summary = sampler.summary()
        monitor.html = sampler.write(out_dir)
    finally:
        client.close()


class _Monitor:
    summary: str = ""
    html: Path | None = None
