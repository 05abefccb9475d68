"""nginx as a TLS reverse proxy, rendered from ``conf/nginx.conf.j2`` and run as a child.

    >>> opts = NginxOptions(http_port=free_port(), https_port=free_port(), upstream_port=8000,
    ...                     cert_path=str(paths.fullchain), key_path=str(paths.privkey))
    >>> srv = NginxServer(make_tempdir("nginx-"), opts).start()     # ready when both ports accept
    >>> srv.reload(wait=True)                                     # SIGHUP, old workers gone
    >>> srv.stop()
    >>> bad = dataclasses.replace(opts, hsts=False)               # wrong in exactly one way
    >>> NginxServer.from_config_text(workdir, my_nginx_conf).start()

Rate limits are keyed on the client address, with an allowlist (``rate_limit_exempt``) whose members
get an empty key and are never limited. The local stack exempts ``127.0.0.1`` (the suite's own
clients, load runs) and leaves ``127.0.0.2`` limited: rate-limit probes bind their client socket to
``127.0.0.2`` (any 127/8 address reaches a 127.0.0.1 listener on Linux).

The production form (``production_options(domain, ...)``: ports 80/443 on all addresses,
redirects to ``https://$host$request_uri``, no allowlist) renders from the same template for
``docker/``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable, ToolError
from pytest_prodcheck.core.ports import wait_port
from pytest_prodcheck.core.proc import ManagedProcess, service_account
from pytest_prodcheck.stack._templates import render

NGINX_BIN = os.environ.get("PRODCHECK_NGINX", "/usr/sbin/nginx")

#: Mozilla "intermediate" TLS 1.2 cipher list (TLS 1.3 suites are not configurable in nginx 1.22).
MOZILLA_INTERMEDIATE_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    ]
)
#: Mozilla "intermediate" key-exchange groups (nginx's default "auto" also offers X448, P-521).
MOZILLA_INTERMEDIATE_CURVES = "X25519:prime256v1:secp384r1"
DEFAULT_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'"
)


@dataclass(frozen=True)
class NginxOptions:
    """Everything the template varies on; defaults are the guide's hardened configuration.

    Render a config that is wrong in exactly one way with ``dataclasses.replace(opts, gzip=False)``.
    """

    http_port: int = 80
    https_port: int = 443
    listen_addr: str = "127.0.0.1"  # "" = all addresses (production)
    apex: str = "shop.test"
    www: str = "www.shop.test"
    api: str = "api.shop.test"
    monitoring: str = "monitoring.shop.test"
    cert_path: str = ""  # fullchain.pem; default <prefix>/certs/fullchain.pem
    key_path: str = ""  # privkey.pem; default <prefix>/certs/privkey.pem
    trusted_cert_path: str = ""  # CA for OCSP stapling verification (optional)
    upstream_host: str = "127.0.0.1"
    upstream_port: int = 8000
    static_dir: str = ""  # default <prefix>/static
    webroot: str = ""  # ACME HTTP-01 webroot; default <prefix>/webroot
    log_dir: str = ""  # default <prefix>/logs
    temp_dir: str = ""  # default <prefix>/tmp
    protocols: tuple[str, ...] = ("TLSv1.2", "TLSv1.3")
    ciphers: str = MOZILLA_INTERMEDIATE_CIPHERS
    ecdh_curves: str = MOZILLA_INTERMEDIATE_CURVES
    hsts: bool = True
    hsts_max_age: int = 63072000
    security_headers: bool = True  # X-Frame-Options, X-Content-Type-Options, Referrer-Policy, CSP
    csp: str = DEFAULT_CSP
    gzip: bool = True
    rate_limit_general: int = 10
    rate_limit_api: int = 30
    burst_general: int = 20
    burst_api: int = 50
    rate_limit_exempt: tuple[str, ...] = ()  # addresses/CIDRs never rate limited
    conn_limit: int = 100  # concurrent connections per client address
    body_limit: str = "1m"
    server_tokens: bool = False
    http2: bool = True
    redirect_https: bool = True
    redirect_www: bool = True
    static_cache: bool = True
    static_max_age: int = 2592000
    static_reinclude_headers: bool = True  # False = the add_header inheritance gotcha on /static/
    keepalive: bool = True
    ocsp_stapling: bool = True
    resolver: str = "127.0.0.1"
    # who may reach the monitoring name at all (Grafana, /nginx_status); () = open to everyone
    monitoring_allow: tuple[str, ...] = ("127.0.0.1",)
    status_listen: str = ""  # "addr:port" of a plain-HTTP stub_status for exporters; "" = none
    extra_locations: str = ""  # raw nginx text appended inside the apex server block
    server_extra: str = ""  # raw nginx text at the top of every site server (apex, api, monitoring)
    user: str | None = None  # "www-data www-data" when the master runs as root
    foreground: bool = True  # daemon off (child process / container)
    worker_processes: int = 1
    worker_connections: int = 4096
    error_log_level: str = "info"

    def __post_init__(self) -> None:
        for name in ("http_port", "https_port", "upstream_port"):
            port = getattr(self, name)
            if not (0 < port < 65536):
                raise ConfigError(f"nginx option {name}={port}: expected a TCP port 1-65535")
        if not re.fullmatch(r"\d+[kKmMgG]?", self.body_limit):
            raise ConfigError(f"nginx option body_limit={self.body_limit!r}: expected e.g. '1m'")

    @property
    def names(self) -> tuple[str, str, str, str]:
        return (self.apex, self.www, self.api, self.monitoring)


@dataclass(frozen=True)
class _Paths:
    pid: str
    log_dir: str
    temp_dir: str
    cert: str
    key: str
    trusted_cert: str
    static_dir: str
    webroot: str


def render_nginx_conf(options: NginxOptions, prefix: Path | str) -> str:
    """The nginx.conf text for ``options``; relative paths default to inside ``prefix``.

    >>> text = render_nginx_conf(NginxOptions(http_port=8080, https_port=8443), "/tmp/ngx")
    >>> "limit_req_zone $prodcheck_rl_key zone=general:10m rate=10r/s;" in text
    True
    """
    prefix = str(prefix).rstrip("/") or "/"
    paths = _Paths(
        pid=f"{prefix}/nginx.pid",
        log_dir=options.log_dir or f"{prefix}/logs",
        temp_dir=options.temp_dir or f"{prefix}/tmp",
        cert=options.cert_path or f"{prefix}/certs/fullchain.pem",
        key=options.key_path or f"{prefix}/certs/privkey.pem",
        trusted_cert=options.trusted_cert_path,
        static_dir=(options.static_dir or f"{prefix}/static").rstrip("/"),
        webroot=options.webroot or f"{prefix}/webroot",
    )
    return render("nginx.conf.j2", o=options, p=paths)


def production_options(
    domain: str,
    *,
    upstream_host: str = "app",
    upstream_port: int = 8000,
    cert_dir: str | None = None,
    user: str | None = "www-data",
) -> NginxOptions:
    """The reference production form: ports 80/443 on all addresses, Let's Encrypt paths.

    >>> production_options("example.com").cert_path
    '/etc/letsencrypt/live/example.com/fullchain.pem'
    """
    cert_dir = cert_dir or f"/etc/letsencrypt/live/{domain}"
    return NginxOptions(
        http_port=80,
        https_port=443,
        listen_addr="",
        apex=domain,
        www=f"www.{domain}",
        api=f"api.{domain}",
        monitoring=f"monitoring.{domain}",
        cert_path=f"{cert_dir}/fullchain.pem",
        key_path=f"{cert_dir}/privkey.pem",
        trusted_cert_path=f"{cert_dir}/chain.pem",
        upstream_host=upstream_host,
        upstream_port=upstream_port,
        static_dir="/var/www/static",
        webroot="/var/www/certbot",
        log_dir="/var/log/nginx",
        temp_dir="/var/cache/nginx",
        resolver="127.0.0.11 1.1.1.1",
        monitoring_allow=("127.0.0.1", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"),
        user=user,
        error_log_level="warn",
    )


_LISTEN = re.compile(r"^\s*listen\s+(?:[\w.\[\]:]*:)?(\d+)\b", re.MULTILINE)


@dataclass
class NginxServer:
    """One nginx master (``daemon off``) in ``workdir`` (its ``-p`` prefix).

    As root the master stays root (reads the 0600 key) and workers run as ``www-data``.
    """

    workdir: Path
    options: NginxOptions = field(default_factory=NginxOptions)
    config_text: str | None = None
    process: ManagedProcess = field(default_factory=lambda: ManagedProcess("nginx"))

    @classmethod
    def from_config_text(cls, workdir: Path, text: str) -> NginxServer:
        """Run an arbitrary nginx.conf (e.g. a user's own) instead of the template."""
        return cls(workdir=workdir, config_text=text)

    # -- paths -------------------------------------------------------------------------------------
    @property
    def conf_path(self) -> Path:
        return self.workdir / "conf" / "nginx.conf"

    @property
    def error_log(self) -> Path:
        return Path(self.options.log_dir or self.workdir / "logs") / "error.log"

    @property
    def static_dir(self) -> Path:
        return Path(self.options.static_dir or self.workdir / "static")

    @property
    def webroot(self) -> Path:
        return Path(self.options.webroot or self.workdir / "webroot")

    @property
    def ports(self) -> tuple[int, ...]:
        """The ports the config listens on (from the text for ``from_config_text``)."""
        if self.config_text is None:
            return (self.options.http_port, self.options.https_port)
        return tuple(sorted({int(p) for p in _LISTEN.findall(self.config_text)}))

    @property
    def reload_command(self) -> tuple[str, ...]:
        return ("kill", "-HUP", str(self.process.pid))

    # -- lifecycle ---------------------------------------------------------------------------------
    def render(self) -> str:
        if self.config_text is not None:
            return self.config_text
        opts = self.options
        if opts.user is None and os.geteuid() == 0:
            service_account("www-data")  # fails clearly if the account is missing
            opts = replace(opts, user="www-data www-data")
        return render_nginx_conf(opts, self.workdir)

    def write_config(self) -> Path:
        for sub in ("conf", "logs", "tmp", "certs"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        if self.config_text is None:
            self.static_dir.mkdir(parents=True, exist_ok=True)
            (self.webroot / ".well-known" / "acme-challenge").mkdir(parents=True, exist_ok=True)
            for d in (self.static_dir, self.webroot, self.webroot / ".well-known"):
                d.chmod(0o755)
            (self.webroot / ".well-known" / "acme-challenge").chmod(0o755)
        self.conf_path.write_text(self.render())
        return self.conf_path

    def _argv(self, *extra: str) -> list[str]:
        if not Path(NGINX_BIN).exists() and shutil.which(NGINX_BIN) is None:
            raise ToolError(f"nginx not found at {NGINX_BIN}: install nginx or set PRODCHECK_NGINX")
        prefix = f"{self.workdir}/"
        return [NGINX_BIN, "-p", prefix, "-c", str(self.conf_path), "-e", "stderr", *extra]

    def test_config(self) -> None:
        """``nginx -t``: raise ToolError with nginx's own message when the config is invalid."""
        self.write_config()
        res = subprocess.run(self._argv("-t", "-q"), capture_output=True, text=True, timeout=30)
        if res.returncode != 0:
            msg = " | ".join(ln for ln in res.stderr.splitlines() if "emerg" in ln or "error" in ln)
            msg = msg or res.stderr.strip()
            raise ToolError(f"nginx config {self.conf_path} is invalid: {msg}")

    def start(self, timeout: float = 10.0) -> NginxServer:
        """Write the config, start the master, return once every listen port accepts."""
        if not self.ports:  # nothing to wait on: validate first so errors surface here
            self.test_config()
        else:
            self.write_config()
        self.process.start(self._argv(), log_path=self.workdir / "logs" / "stderr.log")
        for port in self.ports:
            try:
                wait_port(self.options.listen_addr or "127.0.0.1", port, timeout, proc=self.process)
            except (ToolError, TargetUnreachable) as exc:
                tail = self.process.log_tail()
                self.stop()
                raise ToolError(f"nginx did not start on port {port}: {tail}") from exc
        return self

    def workers(self) -> set[int]:
        """PIDs of the master's current children (workers, cache helpers)."""
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return set()
        return {int(x) for x in text.split()}

    def reload(self, *, wait: bool = True, timeout: float = 10.0) -> None:
        """Re-render + validate the config, SIGHUP, and (``wait``) return once old workers exited.

        Until the old workers are gone they may still accept a connection with the old
        certificate/config, so tests should always wait.
        """
        if not self.process.alive:
            raise ToolError(f"nginx is not running: {self.process.log_tail()}")
        self.test_config()
        old = self.workers()
        self.process.signal(signal.SIGHUP)
        if not wait:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self.workers()
            if not (current & old) and current:
                return
            time.sleep(0.005)
        raise ToolError(f"nginx reload did not replace its workers within {timeout:g} s")

    def stop(self, graceful: bool = False) -> None:
        """Fast stop (SIGTERM), or graceful (SIGQUIT: finish in-flight requests)."""
        self.process.stop(signal.SIGQUIT if graceful else signal.SIGTERM, timeout=5)

    def set_options(self, options: NginxOptions) -> None:
        """Swap the options (call :meth:`reload` to apply)."""
        self.options = options
        self.config_text = None

    def __enter__(self) -> NginxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()
