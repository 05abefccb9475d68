"""The guide's compose stack (``docker/compose.yml``) brought up here, to be judged from outside.

    >>> with ComposeStack(engine, images, progress=print) as target:
    ...     target.settings_toml()          # a prodcheck.toml for `pytest --prodcheck-config ...`
    ...     target.url, target.resolve      # 'https://shop.test:41234', ('shop.test:41234:127.0.0.3', ...)

What a user does, with this machine's constraints: ``docker/render.py`` renders the configs (into
a temp dir, ``PRODCHECK_RENDERED``), a Let's Encrypt-shaped ``live/<domain>/`` lineage issued by a
throwaway CA sits in the ``letsencrypt`` volume, ``docker-compose run --rm migrate`` then
``docker-compose up -d postgres pgbouncer app nginx`` with the images prodcheck built (no
registry: ``--no-build``, names from the environment). ``certbot`` is not started (its image
needs a registry, and no ACME CA can reach this machine).

Publishing: nginx on ``127.0.0.3:80/443`` (the stand-in public address, production's ports:
the redirects name no port), PgBouncer on ``127.0.0.1``
(loopback only, as in production), so "database ports closed on the public address" is judged.
Clients reach nginx through docker-proxy and all arrive from the network's gateway (a fixed
``192.168.N.0/24``): that address is rate-limit exempt, as a production load generator's address
would be allowlisted. Everything carries this run's labels (a compose override file), and is
removed by ``docker-compose down -v`` (and by label, whatever happens).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.core.secrets import mask_text
from pytest_prodcheck.dockerhost.errors import DockerUnavailable
from pytest_prodcheck.dockerhost.labels import new_run_id, run_labels
from pytest_prodcheck.stack.certs import issue_leaf, make_ca, write_pem
from pytest_prodcheck.stack.postgres import new_password

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker" / "compose.yml"
RENDER = ROOT / "docker" / "render.py"
PUBLIC_ADDR = "127.0.0.3"
HTTP_PORT, HTTPS_PORT = 80, 443  # production's ports (on the stand-in public address)
CA_NAME = "pytest-prodcheck compose CA"
STARTED = ("postgres", "pgbouncer", "app", "nginx")
VOLUMES = ("pgdata", "letsencrypt", "certbot-webroot", "static")


def compose_command() -> list[str]:
    """``docker-compose`` (Debian's package) or ``docker compose`` (the v2 plugin)."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    raise DockerUnavailable(
        "no compose tool: apt-get install docker-compose (or the docker compose plugin)"
    )


def _port_free_or_raise(addr: str, port: int) -> None:
    """Fail before anything starts when ``addr:port`` is taken (compose would fail much later)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((addr, port))
        except OSError as exc:
            raise DockerUnavailable(
                f"port {addr}:{port} is already taken ({exc.strerror}): stop what listens there "
                "(ss -ltnp) or publish elsewhere (NGINX_HTTPS_PUBLISH / NGINX_HTTP_PUBLISH)"
            ) from None


@dataclass(frozen=True)
class ComposeTarget:
    """Where the running compose stack is, as an external target sees it."""

    url: str
    http_url: str
    resolve: tuple[str, ...]
    ca_bundle: str
    pgbouncer_dsn: str
    pgbouncer_admin_dsn: str
    public_address: str
    env_file: str

    def settings_toml(self) -> str:
        """A ``prodcheck.toml`` for this target; DSNs come from ``$PRODCHECK_COMPOSE_*_DSN``."""
        resolve = ", ".join(json.dumps(r) for r in self.resolve)
        return (
            f"url = {json.dumps(self.url)}\n"
            f"http_url = {json.dumps(self.http_url)}\n"
            f"resolve = [{resolve}]\n"
            f"ca_bundle = {json.dumps(self.ca_bundle)}\n\n"
            "[acme]\n"
            f'expected_issuer = "^CN={CA_NAME}"\n\n'
            "[pgbouncer]\n"
            "prepared_statements_disabled = true  # the shop connects with prepare_threshold=None\n"
            'dsn = "${PRODCHECK_COMPOSE_PGBOUNCER_DSN}"\n'
            'admin_dsn = "${PRODCHECK_COMPOSE_PGBOUNCER_ADMIN_DSN}"\n\n'
            "[security]\n"
            f"public_address = {json.dumps(self.public_address)}\n"
            f"env_file = {json.dumps(self.env_file)}\n"
        )

    def env(self) -> dict[str, str]:
        return {
            "PRODCHECK_COMPOSE_PGBOUNCER_DSN": self.pgbouncer_dsn,
            "PRODCHECK_COMPOSE_PGBOUNCER_ADMIN_DSN": self.pgbouncer_admin_dsn,
        }


class ComposeStack:
    """``docker/compose.yml`` up for this run; :meth:`down` removes all of it."""

    def __init__(
        self,
        engine: Any,
        images: dict[str, str],
        *,
        domain: str = "shop.test",
        progress: Any = None,
        timeout: float = 120.0,
        public_addr: str = PUBLIC_ADDR,
    ) -> None:
        self.engine = engine
        self.public_addr = public_addr
        self.images = images
        self.domain = domain
        self.progress = progress or (lambda _line: None)
        self.timeout = timeout
        self.run_id = new_run_id()
        self.project = f"prodcheck_{self.run_id}".replace("-", "_").lower()
        self.work: Path | None = None
        self.passwords: dict[str, str] = {}
        self.target: ComposeTarget | None = None
        self.timings: dict[str, float] = {}
        self._cmd: list[str] = []
        self._env: dict[str, str] = {}
        self._guard: Any = None

    def __enter__(self) -> ComposeTarget:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    def secrets(self) -> list[str]:
        return list(self.passwords.values())

    # -- compose -----------------------------------------------------------------------------
    def _compose(self, *args: str, check: bool = True, timeout: float | None = None) -> str:
        assert self.work is not None
        argv = [
            *self._cmd, "-p", self.project, "--env-file", str(self.work / ".env.production"),
            "-f", str(COMPOSE_FILE), "-f", str(self.work / "override.yml"), *args,
        ]  # fmt: skip
        res = subprocess.run(
            argv, env=self._env, capture_output=True, text=True, timeout=timeout or self.timeout
        )
        if check and res.returncode != 0:
            lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
            detail = mask_text(" | ".join(lines[-3:]), extra=self.secrets())
            taken = re.search(
                r"listen tcp[46]? ([\d.:\[\]]+): bind: address already in use", detail
            )
            if taken:
                raise DockerUnavailable(
                    f"port {taken.group(1)} is already taken: stop what listens there "
                    "(ss -ltnp) or publish elsewhere (NGINX_HTTPS_PUBLISH / NGINX_HTTP_PUBLISH)"
                )
            raise DockerUnavailable(f"{' '.join(self._cmd)} {' '.join(args[:2])} failed: {detail}")
        return res.stdout

    def up(self) -> ComposeTarget:
        t0 = time.monotonic()
        try:
            self.target = self._up()
        except BaseException:
            self.down()
            raise
        self.timings["total"] = round(time.monotonic() - t0, 3)
        return self.target

    def _up(self) -> ComposeTarget:
        from pytest_prodcheck.dockerhost.cleanup import RunGuard

        self._cmd = compose_command()
        self._guard = RunGuard(self.engine.client(), self.run_id)  # SIGTERM / atexit: by label
        work = self.work = make_tempdir("compose-")
        self.passwords = {k: new_password() for k in
                          ("POSTGRES_PASSWORD", "APP_DB_PASSWORD", "PGBOUNCER_ADMIN_PASSWORD")}  # fmt: skip
        subnet_n = random.randint(100, 250)
        gateway = f"192.168.{subnet_n}.1"
        http_port, https_port = HTTP_PORT, HTTPS_PORT  # the redirects say https://$host/
        pgb_port = free_port("127.0.0.1")
        for port in (http_port, https_port):
            _port_free_or_raise(self.public_addr, port)

        # 1. configs, exactly as a user renders them
        rendered = work / "rendered"
        res = subprocess.run(
            [sys.executable, str(RENDER), "--domain", self.domain, "--out", str(rendered),
             "--rate-limit-exempt", gateway],
            env={**os.environ, **self.passwords}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if res.returncode != 0:
            raise DockerUnavailable(f"docker/render.py failed: {res.stderr.strip()}")
        # 2. a Let's Encrypt-shaped lineage from a throwaway CA
        live = work / "letsencrypt" / "live" / self.domain
        names = [
            self.domain,
            f"www.{self.domain}",
            f"api.{self.domain}",
            f"monitoring.{self.domain}",
        ]
        certs = write_pem(issue_leaf(make_ca(CA_NAME), names), live)
        shutil.copy(certs.ca, live / "chain.pem")
        (work / "certbot-webroot").mkdir()
        # 3. the env file compose reads (also the deployment's .env.production)
        env_lines = {
            "DOMAIN": self.domain,
            **self.passwords,
            "PRODCHECK_RENDERED": str(rendered),
            "POSTGRES_IMAGE": self.images["postgres"],
            "PGBOUNCER_IMAGE": self.images["pgbouncer"],
            "APP_IMAGE": self.images["app"],
            "NGINX_IMAGE": self.images["nginx"],
            "PGBOUNCER_PUBLISH": f"127.0.0.1:{pgb_port}",
            "NGINX_HTTP_PUBLISH": f"{self.public_addr}:{http_port}",
            "NGINX_HTTPS_PUBLISH": f"{self.public_addr}:{https_port}",
        }
        env_file = work / ".env.production"
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("".join(f"{k}={v}\n" for k, v in env_lines.items()))
        (work / "override.yml").write_text(json.dumps(self._override(subnet_n), indent=1))
        self._env = {**self.engine.env(), "COMPOSE_PROJECT_NAME": self.project}
        t0 = time.monotonic()
        # 4. schema + seed, then the stack
        self.progress("docker: compose run --rm migrate")
        self._compose("run", "--rm", "migrate")
        self.timings["migrate"] = round(time.monotonic() - t0, 3)
        self.progress(f"docker: compose up -d {' '.join(STARTED)}")
        self._compose("up", "-d", "--no-build", *STARTED)
        url = f"https://{self.domain}:{https_port}"
        self._wait_site(https_port, str(certs.ca))
        self.timings["up"] = round(time.monotonic() - t0, 3)
        resolve = tuple(
            f"{n}:{p}:{self.public_addr}" for n in names for p in (https_port, http_port)
        )
        admin_pw = self.passwords["PGBOUNCER_ADMIN_PASSWORD"]
        app_pw = self.passwords["APP_DB_PASSWORD"]
        return ComposeTarget(
            url=url,
            http_url=f"http://{self.domain}:{http_port}",
            resolve=resolve,
            ca_bundle=str(certs.ca),
            pgbouncer_dsn=f"postgresql://app:{app_pw}@127.0.0.1:{pgb_port}/ecommerce",
            pgbouncer_admin_dsn=f"postgresql://pgb_admin:{admin_pw}@127.0.0.1:{pgb_port}/pgbouncer",
            public_address=self.public_addr,
            env_file=str(env_file),
        )

    def _override(self, subnet_n: int) -> dict[str, Any]:
        """Labels on everything, the fixed subnet, the lineage and webroot as bind volumes."""
        assert self.work is not None
        labels = run_labels("compose", self.run_id)
        binds = {
            "letsencrypt": self.work / "letsencrypt",
            "certbot-webroot": self.work / "certbot-webroot",
        }
        volumes: dict[str, Any] = {}
        for name in VOLUMES:
            volumes[name] = {"labels": labels}
            if name in binds:
                volumes[name]["driver_opts"] = {
                    "type": "none",
                    "o": "bind",
                    "device": str(binds[name]),
                }
        return {
            "services": {s: {"labels": labels} for s in (*STARTED, "migrate", "certbot")},
            "networks": {
                "default": {
                    "labels": labels,
                    "ipam": {"config": [{"subnet": f"192.168.{subnet_n}.0/24"}]},
                }
            },
            "volumes": volumes,
        }

    def _wait_site(self, https_port: int, ca: str) -> None:
        """Until ``GET /health`` through nginx (TLS, SNI = the domain) answers 200."""
        ctx = ssl.create_default_context(cafile=ca)
        deadline = time.monotonic() + self.timeout
        last = ""
        request = f"GET /health HTTP/1.1\r\nHost: {self.domain}\r\nConnection: close\r\n\r\n"
        while time.monotonic() < deadline:
            try:
                with (
                    socket.create_connection((self.public_addr, https_port), timeout=3) as raw,
                    ctx.wrap_socket(raw, server_hostname=self.domain) as tls,
                ):
                    tls.sendall(request.encode())
                    status = tls.recv(64).split(b" ", 2)[1].decode()
                if status == "200":
                    return
                last = f"HTTP {status}"
            except (OSError, IndexError) as exc:
                last = str(exc) or type(exc).__name__
            time.sleep(0.2)
        logs = self._compose("logs", "--tail", "3", check=False, timeout=30)
        tail = mask_text(" | ".join(logs.strip().splitlines()[-4:]), extra=self.secrets())
        raise DockerUnavailable(f"the compose stack's site did not answer ({last}): {tail}")

    def down(self) -> None:
        """``docker-compose down -v`` and, whatever that did, remove by label; drop the temp dir."""
        from pytest_prodcheck.dockerhost.labels import remove_run

        if self.work is not None and self._cmd:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._compose("down", "-v", "--remove-orphans", check=False, timeout=120)
        with contextlib.suppress(Exception):
            remove_run(self.engine.client(), self.run_id)
        if self._guard is not None:
            self._guard.close()
            self._guard = None
        if self.work is not None:
            remove_tempdir(self.work)
            self.work = None
