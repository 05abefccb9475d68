"""The ``docker`` provider: the reference stack through testcontainers (imported only if selected).

    >>> reason = docker_unavailable_reason()       # None when an engine answers
    >>> with DockerStack(settings) as endpoints:   # raises DockerUnavailable without an engine
    ...     endpoints.site_url

Containers (one network): ``postgres:15`` (roles/databases as in the local stack), PgBouncer and
nginx built from ``docker/`` with configs rendered from the same templates as the local stack,
``motoserver/moto`` for S3 and the shop image built from ``docker/app``. Ports are published on
127.0.0.1; the endpoints look like the local stack's (resolve entries, local CA).

No Docker engine runs on the project's build machines, so this module is exercised only for its
skip reason there.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.stack.certs import issue_leaf, make_ca, write_pem
from pytest_prodcheck.stack.endpoints import Endpoints, MissingEndpoint
from pytest_prodcheck.stack.nginx import NginxOptions, render_nginx_conf
from pytest_prodcheck.stack.pgbouncer import (
    PgBouncerOptions,
    render_pgbouncer_ini,
    render_userlist,
)
from pytest_prodcheck.stack.postgres import dsn, new_password, scram_verifier
from pytest_prodcheck.stack.s3 import DEFAULT_BUCKET, DUMMY_KEY_ID, DUMMY_SECRET

if TYPE_CHECKING:
    from pytest_prodcheck.config import Settings

DOCKER_DIR = Path(__file__).resolve().parents[2] / "docker"


class DockerUnavailable(MissingEndpoint, ToolError):
    """No Docker engine answers. A :class:`MissingEndpoint`, so the plugin skips with this reason;
    a :class:`ToolError` for the CLI (exit code 3)."""


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def docker_unavailable_reason(timeout: float = 2.0) -> str | None:
    """Why the docker target cannot run here, or None when an engine answers ``/_ping``."""
    host = docker_host()
    parts = urlsplit(host)
    try:
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(parts.path)
        elif parts.scheme in ("tcp", "http"):
            sock = socket.create_connection((parts.hostname or "", parts.port or 2375), timeout)
        else:
            return f"DOCKER_HOST={host!r} is not supported: use unix:// or tcp://"
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            answer = sock.recv(64)
    except OSError as exc:
        return (
            f"no Docker engine answers at {host} ({exc.strerror or exc}): start Docker, "
            f"or use --prodcheck-target local"
        )
    if b" 200 " not in answer:
        return f"the Docker engine at {host} did not answer /_ping with 200"
    return None


class DockerStack:
    """Context manager yielding :class:`Endpoints` for the containerised reference stack."""

    def __init__(self, settings: Settings | None = None, *, apex: str = "shop.test") -> None:
        self.settings = settings
        self.apex = (settings.site.apex if settings else None) or apex
        self._containers: list[Any] = []
        self._network: Any = None
        self.workdir: Path | None = None

    def __enter__(self) -> Endpoints:
        reason = docker_unavailable_reason()
        if reason:
            raise DockerUnavailable(reason)
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        for container in reversed(self._containers):
            with contextlib.suppress(Exception):
                container.stop()
        self._containers.clear()
        if self._network is not None:
            with contextlib.suppress(Exception):
                self._network.remove()
        if self.workdir is not None:
            remove_tempdir(self.workdir)

    def _start(self) -> Endpoints:  # pragma: no cover - needs a Docker engine
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.image import DockerImage
        from testcontainers.core.network import Network
        from testcontainers.core.waiting_utils import wait_for_logs

        work = self.workdir = make_tempdir("docker-")
        names = [self.apex, f"www.{self.apex}", f"api.{self.apex}", f"monitoring.{self.apex}"]
        su_pw, app_pw, admin_pw = new_password(), new_password(), new_password()
        self._network = Network().create()

        init = work / "initdb"
        init.mkdir()
        app_secret = scram_verifier(app_pw)  # the same verifier in PostgreSQL and PgBouncer
        (init / "10-roles.sql").write_text(
            f"CREATE ROLE app LOGIN PASSWORD '{app_secret}';\n"
            "CREATE DATABASE ecommerce OWNER app;\nCREATE DATABASE ai OWNER app;\n"
        )
        pg = (
            DockerContainer("postgres:15")
            .with_env("POSTGRES_PASSWORD", su_pw)
            .with_network(self._network)
            .with_network_aliases("postgres")
            .with_volume_mapping(str(init), "/docker-entrypoint-initdb.d", "ro")
            .with_bind_ports(5432, None)
        )
        pg.start()
        self._containers.append(pg)
        wait_for_logs(pg, "database system is ready to accept connections", timeout=60)

        pgb_dir = work / "pgbouncer"
        pgb_dir.mkdir()
        (pgb_dir / "pgbouncer.ini").write_text(
            render_pgbouncer_ini(
                PgBouncerOptions(listen_addr="0.0.0.0", server_host="postgres"),
                server_port=5432,
                listen_port=6432,
                auth_file="/etc/pgbouncer/userlist.txt",
            )
        )
        (pgb_dir / "userlist.txt").write_text(
            render_userlist(
                {
                    "app": app_secret,
                    "pgb_admin": scram_verifier(admin_pw),
                    "pgb_stats": scram_verifier(new_password()),
                }
            )
        )
        with DockerImage(path=str(DOCKER_DIR / "pgbouncer"), tag="prodcheck-pgbouncer") as image:
            pgb = (
                DockerContainer(str(image))
                .with_network(self._network)
                .with_volume_mapping(str(pgb_dir), "/etc/pgbouncer", "ro")
                .with_bind_ports(6432, None)
            )
            pgb.start()
        self._containers.append(pgb)

        moto = DockerContainer("motoserver/moto:latest").with_bind_ports(5000, None)
        moto.start()
        self._containers.append(moto)

        shop_image = DockerImage(
            path=str(DOCKER_DIR.parent),
            dockerfile_path="docker/app/Dockerfile",
            tag="prodcheck-shop",
        )
        shop_image.build()
        migrate = (
            DockerContainer(str(shop_image))
            .with_network(self._network)
            .with_command("python -m pytest_prodcheck.shop migrate")
            .with_env("PRODCHECK_SHOP_DSN", dsn("app", app_pw, 5432, "ecommerce", "postgres"))
            .with_env("PRODCHECK_SHOP_AI_DSN", dsn("app", app_pw, 5432, "ai", "postgres"))
        )
        migrate.start()
        self._containers.append(migrate)
        status = migrate.get_wrapped_container().wait(timeout=300)
        if status.get("StatusCode") != 0:
            raise ToolError("the shop migration container failed: see `docker logs` of it")
        shop = (
            DockerContainer(str(shop_image))
            .with_network(self._network)
            .with_network_aliases("app")
            .with_env("PRODCHECK_SHOP_DSN", dsn("app", app_pw, 6432, "ecommerce", "pgbouncer"))
            .with_env("PRODCHECK_SHOP_AI_DSN", dsn("app", app_pw, 6432, "ai", "pgbouncer"))
        )
        shop.start()
        self._containers.append(shop)

        ca = make_ca("pytest-prodcheck docker CA")
        certs = write_pem(issue_leaf(ca, names), work / "certs")
        nginx_dir = work / "nginx"
        nginx_dir.mkdir()
        opts = NginxOptions(
            listen_addr="",
            http_port=8080,
            https_port=8443,
            apex=names[0],
            www=names[1],
            api=names[2],
            monitoring=names[3],
            cert_path="/etc/nginx/certs/fullchain.pem",
            key_path="/etc/nginx/certs/privkey.pem",
            upstream_host="app",
            static_dir="/var/www/static",
            webroot="/var/www/certbot",
            log_dir="/var/log/nginx",
            temp_dir="/var/cache/nginx",
            rate_limit_exempt=("172.16.0.0/12",),
        )
        (nginx_dir / "nginx.conf").write_text(render_nginx_conf(opts, "/etc/nginx"))
        nginx = (
            DockerContainer("nginx:1.25")
            .with_command("nginx -c /etc/nginx/nginx.conf")  # the config says "daemon off"
            .with_network(self._network)
            .with_volume_mapping(str(nginx_dir / "nginx.conf"), "/etc/nginx/nginx.conf", "ro")
            .with_volume_mapping(str(certs.directory), "/etc/nginx/certs", "ro")
            .with_bind_ports(8080, None)
            .with_bind_ports(8443, None)
        )
        nginx.start()
        self._containers.append(nginx)

        host = pg.get_container_host_ip()
        pg_port = int(pg.get_exposed_port(5432))
        pgb_port = int(pgb.get_exposed_port(6432))
        https = int(nginx.get_exposed_port(8443))
        http = int(nginx.get_exposed_port(8080))
        resolve = tuple(f"{n}:{p}:{host}" for n in names for p in (https, http))
        from pytest_prodcheck.stack.endpoints import S3Endpoint

        return Endpoints(
            target="docker",
            site_url=f"https://{names[0]}:{https}",
            http_url=f"http://{names[0]}:{http}",
            apex=names[0],
            www=names[1],
            api=names[2],
            monitoring=names[3],
            resolve=resolve,
            ca_bundle=str(certs.ca),
            postgres_admin_dsn=dsn("postgres", su_pw, pg_port, "postgres", host),
            postgres_dsn=dsn("app", app_pw, pg_port, "ecommerce", host),
            postgres_ai_dsn=dsn("app", app_pw, pg_port, "ai", host),
            pgbouncer_dsn=dsn("app", app_pw, pgb_port, "ecommerce", host),
            pgbouncer_ai_dsn=dsn("app", app_pw, pgb_port, "ai", host),
            pgbouncer_admin_dsn=dsn("pgb_admin", admin_pw, pgb_port, "pgbouncer", host),
            s3=S3Endpoint(
                bucket=DEFAULT_BUCKET,
                endpoint_url=f"http://{host}:{moto.get_exposed_port(5000)}",
                access_key_id=DUMMY_KEY_ID,
                secret_access_key=DUMMY_SECRET,
            ),
            # the same shop as the local stack: prepare_threshold=None through PgBouncer
            extras={"app_prepared_statements": "disabled"},
        )
