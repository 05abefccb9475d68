"""The guide's "Support & Troubleshooting" steps as one diagnosis, each finding with its fix.

    >>> for finding in diagnose(endpoints, settings):
    ...     print(finding.line())
    ✓ dns shop.example.com: 203.0.113.10
    ✗ port 443 shop.example.com: connection refused
        fix: open 80/443 in the firewall and check nginx listens (ss -tlnp | grep -E ':(80|443)')

A step never raises: an unreachable service is a failed finding with what to try next.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import requests

from pytest_prodcheck.config import Settings
from pytest_prodcheck.core.errors import ProdcheckError
from pytest_prodcheck.core.pgbouncer_admin import AdminConsole
from pytest_prodcheck.core.resolve import ResolveEntry, ResolveMap
from pytest_prodcheck.core.secrets import mask_dsn, mask_text
from pytest_prodcheck.probes.tls.expiry import check_expiry
from pytest_prodcheck.probes.tls.scan import scan_tls
from pytest_prodcheck.probes.tls.target import SiteTarget
from pytest_prodcheck.stack.endpoints import Endpoints

MIN_FREE_BYTES = 1 << 30  # 1 GiB free for backups


@dataclass(frozen=True)
class Finding:
    step: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{'✓' if self.ok else '✗'} {self.step}: {self.detail}"
        return text if self.ok or not self.fix else f"{text}\n    fix: {self.fix}"


def _guard(step: str, fix: str, fn: Callable[[], Finding]) -> Finding:
    try:
        return fn()
    except ProdcheckError as exc:
        return Finding(step, False, str(exc), fix)
    except (OSError, psycopg.Error, requests.RequestException) as exc:
        return Finding(
            step,
            False,
            mask_text(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)),
            fix,
        )


Resolve = ResolveMap | Mapping[tuple[str, int], str]  # parsed entries, or {(host, port): addr}


def _as_map(resolve: Resolve) -> ResolveMap:
    if isinstance(resolve, ResolveMap):
        return resolve
    return ResolveMap(tuple(ResolveEntry(h, p, a) for (h, p), a in resolve.items()))


def _resolve(host: str, port: int, resolve: Resolve) -> str:
    """The address to connect to: the best resolve entry for ``host`` (any port), else host."""
    return _as_map(resolve).address(host, port)


def check_dns(name: str, resolve: Resolve) -> Finding:
    pinned = _as_map(resolve).pinned(name)
    if pinned:
        return Finding(f"dns {name}", True, f"pinned by --resolve to {pinned}")
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return Finding(
            f"dns {name}",
            False,
            f"does not resolve ({exc.strerror})",
            f"add an A record for {name} pointing at the server (check: nslookup {name})",
        )
    addrs = sorted({str(info[4][0]) for info in infos})
    return Finding(f"dns {name}", True, ", ".join(addrs))


def check_port(url: str, resolve: Resolve, timeout: float = 3.0) -> Finding:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addr = _resolve(host, port, resolve)
    step = f"port {port} {host}"
    try:
        with socket.create_connection((addr, port), timeout=timeout):
            return Finding(step, True, f"{addr}:{port} accepts connections")
    except OSError as exc:
        return Finding(
            step,
            False,
            f"{addr}:{port}: {exc.strerror or exc}",
            "open 80/443 in the firewall and check nginx listens "
            "(ss -tlnp | grep -E ':(80|443)'; nginx -t)",
        )


def check_certificate(target: SiteTarget) -> Finding:
    result = check_expiry(scan_tls(target, timeout=5), target.expect)
    return Finding(
        "certificate",
        result.ok,
        result.message or result.observed,
        ""
        if result.ok
        else "renew it: prodcheck ssl renew (or make renew-ssl); check the renewal cron job",
    )


def check_database(name: str, dsn: str) -> Finding:
    with psycopg.connect(dsn, connect_timeout=3, prepare_threshold=None, autocommit=True) as conn:
        version = conn.execute("select current_setting('server_version')").fetchone()
    return Finding(name, True, f"{mask_dsn(dsn)} answers (server {version[0] if version else '?'})")


def check_pgbouncer_pools(admin_dsn: str) -> Finding:
    with AdminConsole(admin_dsn) as console:
        pools = console.show("POOLS").dicts()
    waiting = sum(int(p.get("cl_waiting") or 0) for p in pools)
    detail = f"{len(pools)} pools, {waiting} clients waiting"
    return Finding(
        "pgbouncer pools",
        waiting == 0,
        detail,
        "clients wait for server connections: raise default_pool_size/max_db_connections "
        "or find slow transactions (SHOW SERVERS)"
        if waiting
        else "",
    )


_PGBOUNCER_TROUBLE = ("ERROR", "FATAL", "pooler error")


def pgbouncer_log_path(ini: Path) -> Path | None:
    """PgBouncer's log: ``logfile`` of its ini, else ``pgbouncer.log`` next to the ini (where the
    embedded stack captures its stderr); None when neither is known."""
    for line in ini.read_text(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "logfile" and value.strip():
            return Path(value.strip())
    beside = ini.parent / "pgbouncer.log"
    return beside if beside.exists() else None


def check_pgbouncer_log(log: Path, tail: int = 500) -> Finding:
    """No ERROR/FATAL/pooler-error line among the log's last ``tail`` lines (the guide's
    "Check PgBouncer logs"); the newest such line is shown, passwords masked."""
    step = f"pgbouncer log {log}"
    lines = log.read_text(errors="replace").splitlines()[-tail:]
    trouble = [ln for ln in lines if any(word in ln for word in _PGBOUNCER_TROUBLE)]
    if not trouble:
        return Finding(step, True, f"no errors in the last {len(lines)} lines")
    return Finding(
        step,
        False,
        f"{len(trouble)} error line(s) in the last {len(lines)}; newest: "
        + mask_text(trouble[-1].strip())[:300],
        "read the log around that line: wrong password in userlist.txt/auth_query, PostgreSQL "
        "down, or max_client_conn/max_db_connections reached",
    )


def _pgbouncer_log(ini: Path) -> Finding:
    log = pgbouncer_log_path(ini)
    if log is None:
        return Finding("pgbouncer log", True, f"{ini} logs to syslog: journalctl -u pgbouncer")
    return check_pgbouncer_log(log)


def check_backup_dir(path: Path) -> Finding:
    step = f"backup dir {path}"
    if not path.exists():
        return Finding(step, False, "does not exist", f"mkdir -p {path} && chmod 700 {path}")
    if not os.access(path, os.W_OK | os.X_OK):
        return Finding(
            step, False, "not writable by this user", f"chown $(id -un) {path}; chmod 700 {path}"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    exposed = (
        sorted(f.name for f in path.iterdir() if f.is_file() and f.stat().st_mode & stat.S_IROTH)
        if mode & stat.S_IXOTH
        else []
    )
    if mode & stat.S_IWOTH or exposed:
        why = (
            "every user can write (and replace dumps)"
            if mode & stat.S_IWOTH
            else f"every user can read {len(exposed)} dump(s), e.g. {exposed[0]}"
        )
        return Finding(step, False, f"mode {mode:04o}: {why}", f"chmod 700 {path}")
    free = shutil.disk_usage(path).free
    ok = free >= MIN_FREE_BYTES
    return Finding(
        step,
        ok,
        f"writable, mode {mode:04o}, {free / (1 << 30):.1f} GiB free",
        "" if ok else "free disk space (df -h) or prune old backups: prodcheck backups prune",
    )


def check_acme_directory(url: str, ca_bundle: str | None) -> Finding:
    session = requests.Session()
    session.trust_env = False
    response = session.get(url, timeout=5, verify=ca_bundle or True)
    ok = response.status_code == 200 and "newOrder" in response.text
    return Finding(
        "acme directory",
        ok,
        f"{mask_text(url)} answered {response.status_code}",
        "" if ok else "check --directory / [acme] directory and outbound HTTPS",
    )


def diagnose(ep: Endpoints, settings: Settings) -> Iterator[Finding]:
    """Every troubleshooting step that applies to the configured target, in the guide's order."""
    resolve = ep.resolve_map()
    for name in ep.names:
        yield check_dns(name, resolve)
    for url in (ep.http_url, ep.site_url):
        if url:
            yield check_port(url, resolve)
    if ep.site_url:
        yield _guard(
            "certificate",
            "check nginx's ssl_certificate and the TLS port",
            lambda: check_certificate(SiteTarget.from_endpoints(ep, settings)),
        )
    for name, dsn, fix in (
        ("database (direct)", ep.postgres_dsn, "check PostgreSQL runs: pg_isready -h HOST -p 5432"),
        (
            "database (via pgbouncer)",
            ep.pgbouncer_dsn,
            "check PgBouncer runs and its [databases] entry points at PostgreSQL (its log says why)",
        ),
    ):
        if dsn:
            yield _guard(name, fix, lambda n=name, d=dsn: check_database(n, d))  # type: ignore[misc]
    if ep.pgbouncer_admin_dsn:
        yield _guard(
            "pgbouncer pools",
            "check admin_users/stats_users in pgbouncer.ini",
            lambda: check_pgbouncer_pools(ep.pgbouncer_admin_dsn or ""),
        )
    ini = ep.extras.get("pgbouncer_ini")
    if ini:
        yield _guard(
            "pgbouncer log",
            "check PgBouncer's logfile setting and that this user may read it",
            lambda: _pgbouncer_log(Path(ini)),
        )
    backup_dir = Path(settings.backup.dir)
    yield _guard(
        f"backup dir {backup_dir}",
        f"check {backup_dir} and its parents are accessible to this user",
        lambda: check_backup_dir(backup_dir),
    )
    directory = ep.acme_directory or settings.acme.directory
    if directory:
        bundle = ep.acme_ca_bundle or settings.acme.ca_bundle
        yield _guard(
            "acme directory",
            "check the ACME directory URL and outbound HTTPS",
            lambda: check_acme_directory(directory, bundle),
        )
