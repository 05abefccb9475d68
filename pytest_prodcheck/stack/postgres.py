"""PostgreSQL 15 from local binaries: a cached, seeded template data dir copied per run.

    >>> pg = PostgresServer(make_tempdir("pg-"), superuser_password="s3cret").start()
    >>> pg.admin_dsn                       # superuser, db "postgres"
    'postgresql://postgres:s3cret@127.0.0.1:40123/postgres'
    >>> pg.dsn("ecommerce")                # app role ``app`` (not a superuser), db ecommerce
    'postgresql://app:...@127.0.0.1:40123/ecommerce'
    >>> pg.scram_secret("app")             # what PgBouncer's auth_file holds
    'SCRAM-SHA-256$4096:...'
    >>> pg.stop()                          # fast shutdown (SIGINT)

The template (roles ``postgres`` and ``app``, databases ``ecommerce`` and ``ai``, the shop's
schema + seed) is built and cached by :mod:`pytest_prodcheck.stack.pg_template`. Each run copies the data dir onto tmpfs, starts ``postgres`` in the foreground as the ``postgres``
user (when root), and sets fresh passwords as SCRAM verifiers computed here (no plaintext
password crosses the wire or lands in a log).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pytest_prodcheck.core.errors import ConfigError, ToolError
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import (
    ManagedProcess,
    make_tempdir,
    remove_tempdir,
    service_account,
)
from pytest_prodcheck.core.secrets import mask_text

PG_BINDIR = Path(os.environ.get("PRODCHECK_PG_BINDIR", "/usr/lib/postgresql/15/bin"))
APP_ROLE = "app"
DATABASES = ("ecommerce", "ai")

#: Server settings for a throwaway cluster: speed over durability, room for PgBouncer's pools.
DEFAULT_SETTINGS: dict[str, str] = {
    "max_connections": "250",
    "password_encryption": "scram-sha-256",
    "shared_buffers": "32MB",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "min_wal_size": "2MB",
    "max_wal_size": "64MB",
    # segments live in the data dir (not /dev/shm/PostgreSQL.*), so a killed server leaks nothing
    "dynamic_shared_memory_type": "mmap",
}

_MODES = {"fast": signal.SIGINT, "immediate": signal.SIGQUIT, "smart": signal.SIGTERM}


# --------------------------------------------------------------------------------------------
# SCRAM verifiers (what ``ALTER ROLE … PASSWORD 'SCRAM-SHA-256$…'`` and PgBouncer store)
# --------------------------------------------------------------------------------------------


def scram_verifier(password: str, *, iterations: int = 4096, salt: bytes | None = None) -> str:
    """The PostgreSQL SCRAM-SHA-256 verifier of ``password`` (RFC 5802/7677, as libpq makes it).

    >>> scram_verifier("pw").startswith("SCRAM-SHA-256$4096:")
    True
    """
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
        f"${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


# the stacks' role names: a generated password never contains one (``postgres.strong-passwords``
# judges a password containing its user name weak, and 24 random characters hold "app" 1 in ~1500)
ROLE_NAMES = ("app", "postgres", "pgb", "admin", "stats")


def new_password() -> str:
    """A random URL-safe password (safe inside DSNs and config files), free of role names.

    >>> pw = new_password()
    >>> len(pw), any(name in pw.lower() for name in ROLE_NAMES)
    (24, False)
    """
    while True:
        pw = secrets.token_urlsafe(18)
        if not any(name in pw.lower() for name in ROLE_NAMES):
            return pw


def dsn(user: str, password: str, port: int, db: str, host: str = "127.0.0.1") -> str:
    """``postgresql://user:password@host:port/db`` with the parts URL-quoted."""
    return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{db}"


# --------------------------------------------------------------------------------------------
# running the server binaries as the service user
# --------------------------------------------------------------------------------------------


def child_env(account: tuple[int, int] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8")
    if account is not None:
        env.update(HOME="/var/lib/postgresql", USER="postgres", LOGNAME="postgres")
    return env


def binary(name: str) -> str:
    path = PG_BINDIR / name
    if not path.exists():
        raise ToolError(
            f"PostgreSQL binary {path} not found: install postgresql-15 or set PRODCHECK_PG_BINDIR"
        )
    return str(path)


def server_version() -> str:
    """Major version of the server binaries, e.g. ``"15"``."""
    out = subprocess.run([binary("postgres"), "--version"], capture_output=True, text=True).stdout
    m = re.search(r"(\d+)(?:\.\d+)?", out)
    if not m:
        raise ToolError(f"cannot read the PostgreSQL version from {out!r}")
    return m.group(1)


def run_as(argv: list[str], account: tuple[int, int] | None, what: str) -> None:
    kwargs: dict[str, Any] = {}
    if account is not None:
        kwargs.update(user=account[0], group=account[1], extra_groups=[])
    res = subprocess.run(
        argv, capture_output=True, text=True, env=child_env(account), timeout=300, **kwargs
    )
    if res.returncode != 0:
        lines = [ln for ln in (res.stderr or res.stdout).splitlines() if ln.strip()]
        raise ToolError(f"{what} failed: {mask_text(' | '.join(lines[-3:]))}")


# --------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------


class PostgresServer:
    """One PostgreSQL cluster in ``workdir``, copied from the template, on a free loopback port."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        superuser_password: str | None = None,
        app_password: str | None = None,
        settings: Mapping[str, str] | None = None,
        data_dir: Path | None = None,
        migrate: bool = True,
    ) -> None:
        self.workdir = workdir
        self.host = host  # the loopback address it listens on (listen_addresses)
        self.port = port or free_port(host)
        self._fixed_port = port is not None
        self.superuser_password = superuser_password or new_password()
        self.app_password = app_password or new_password()
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self.data_dir = data_dir or workdir / "pg" / "data"
        self.socket_dir = self.data_dir.parent / "sock"
        if len(str(self.socket_dir)) > 80:  # sun_path holds 107 bytes incl. ".s.PGSQL.<port>"
            self.socket_dir = make_tempdir("pgsock-") / "sock"
        self.bindir = PG_BINDIR
        self.account = service_account("postgres")
        self.process = ManagedProcess("postgres")
        self._migrate = migrate
        self._template_secrets: dict[str, str] = {}
        self._copier: ManagedProcess | None = None
        self._cancelled = False
        # verifiers are computed here, so PgBouncer's auth file can be written before we start
        self._secrets: dict[str, str] = {
            "postgres": scram_verifier(self.superuser_password),
            APP_ROLE: scram_verifier(self.app_password),
        }

    # -- DSNs ------------------------------------------------------------------------------------
    @property
    def admin_dsn(self) -> str:
        return dsn("postgres", self.superuser_password, self.port, "postgres", self.host)

    def dsn(self, db: str = "ecommerce", user: str = APP_ROLE, password: str | None = None) -> str:
        """A DSN for ``user`` (default the app role) on ``db``."""
        if password is None:
            password = {"postgres": self.superuser_password, APP_ROLE: self.app_password}.get(user)
            if password is None:
                raise ConfigError(f"no password known for role {user!r}: pass password=")
        return dsn(user, password, self.port, db, self.host)

    def passwords(self) -> list[str]:
        """Every password this server knows (for :func:`mask_text`)."""
        return [self.superuser_password, self.app_password, *self._template_secrets.values()]

    def scram_secret(self, role: str) -> str:
        """The SCRAM verifier stored for ``role`` (read from ``pg_authid``)."""
        if role in self._secrets:
            return self._secrets[role]
        rows = self.query("SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role])
        if not rows or not rows[0][0]:
            raise ToolError(f"role {role!r} has no password in this cluster")
        return str(rows[0][0])

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> PostgresServer:
        """Copy the template, start, set this run's passwords; return when connections work."""
        self.prepare()
        return self.launch(timeout)

    def prepare(self) -> None:
        """Build/find the template and copy it into ``workdir`` (thread-safe; starts nothing)."""
        from pytest_prodcheck.stack.pg_template import ensure_template, template_lock

        for _attempt in range(3):
            template = ensure_template(migrate=self._migrate)
            with template_lock(template, shared=True):
                if not (template / "READY").exists():  # pruned meanwhile: build it again
                    continue
                if self._cancelled:
                    raise ToolError("PostgreSQL start-up was cancelled")
                self._template_secrets = json.loads((template / "secrets.json").read_text())
                self._copy_template(template / "pg" / "data")
                break
        else:
            raise ToolError(f"the PostgreSQL template {template} keeps disappearing; retry")
        with contextlib.suppress(OSError):
            (template / "LAST_USED").touch()

    def launch(self, timeout: float = 30.0) -> PostgresServer:
        """Start the prepared data dir and set this run's passwords (call from the main thread)."""
        self._start_process(timeout)
        try:
            self._set_passwords()
        except BaseException:
            self.stop("immediate")
            raise
        return self

    def _copy_template(self, source: Path) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.parent.chmod(0o711)
        if self.account is not None:
            os.chown(self.data_dir.parent, *self.account)
        # a tracked child (not subprocess.run): cancel_prepare() kills it, and it dies with the run
        # instead of writing into a workdir that stop() already removed
        log = self.data_dir.parent / "copy.log"
        self._copier = ManagedProcess("cp (PostgreSQL template)")
        self._copier.start(["cp", "-a", str(source), str(self.data_dir)], log_path=log)
        code = self._copier.wait()
        self._copier.stop()
        if self._cancelled:
            raise ToolError("PostgreSQL start-up was cancelled")
        if code != 0:
            raise ToolError(f"copying the PostgreSQL template failed: {self._copier.log_tail()}")
        log.unlink(missing_ok=True)

    def cancel_prepare(self) -> None:
        """Stop a :meth:`prepare` running in another thread (kills the template copy)."""
        self._cancelled = True
        copier = self._copier
        if copier is not None:
            copier.kill()

    def _start_process(self, timeout: float = 30.0) -> None:
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        if self.account is not None:
            os.chown(self.socket_dir, *self.account)
        for attempt in range(3):
            argv = [binary("postgres"), "-D", str(self.data_dir), "-c", f"port={self.port}"]
            argv += ["-c", f"listen_addresses={self.host}"]
            argv += ["-c", f"unix_socket_directories={self.socket_dir}"]
            for key, value in self.settings.items():
                argv += ["-c", f"{key}={value}"]
            log = self.data_dir.parent / f"postgres-{attempt}.log"
            self.process = ManagedProcess("postgres")
            self.process.start(argv, user=self.account, env=child_env(self.account), log_path=log)
            if self._wait_ready(timeout):
                return
            text = self.process.log_text()
            self.process.kill()
            bind_error = "could not bind" in text or "could not create any TCP/IP" in text
            if bind_error and not self._fixed_port:
                self.port = free_port(self.host)
                continue
            raise ToolError(f"PostgreSQL did not start: {self.process.log_tail()}")
        raise ToolError(f"PostgreSQL could not bind a free port: {self.process.log_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        pidfile = self.data_dir / "postmaster.pid"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.alive:
                return False
            with contextlib.suppress(OSError):
                lines = pidfile.read_text().splitlines()
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return True
            time.sleep(0.005)
        return False

    def _set_passwords(self) -> None:
        wanted = {"postgres": self.superuser_password, APP_ROLE: self.app_password}
        import psycopg

        old = self._template_secrets.get("postgres", self.superuser_password)
        conn = psycopg.connect(
            dsn("postgres", old, self.port, "postgres", self.host), autocommit=True
        )
        with conn:
            for role, password in wanted.items():
                if self._template_secrets.get(role) == password:
                    self._secrets.pop(role, None)  # the template's own verifier stays valid
                    continue
                verifier = self._secrets[role]
                conn.execute(f"ALTER ROLE {role} PASSWORD '{verifier}'".encode())

    def stop(self, mode: str = "fast", timeout: float = 10.0) -> None:
        """Stop: ``fast`` (SIGINT, default), ``immediate`` (SIGQUIT) or ``smart`` (SIGTERM)."""
        if mode not in _MODES:
            raise ConfigError(f"unknown PostgreSQL stop mode {mode!r}: use fast, immediate, smart")
        self.process.stop(_MODES[mode], timeout=timeout)

    def destroy(self) -> None:
        """Stop and delete the data dir (only when ``workdir`` came from ``make_tempdir``)."""
        self.stop("immediate")
        remove_tempdir(self.workdir)

    # -- SQL helpers -----------------------------------------------------------------------------
    def _connect(self, db: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(
            dsn("postgres", self.superuser_password, self.port, db, self.host),
            autocommit=True,
            connect_timeout=10,
        )

    def execute(self, sql: str, params: Any = None, *, db: str = "postgres") -> None:
        """Run one statement as the superuser (autocommit)."""
        with self._connect(db) as conn:
            conn.execute(sql.encode() if params is None else sql, params)

    def query(self, sql: str, params: Any = None, *, db: str = "postgres") -> list[tuple[Any, ...]]:
        """Rows of one query run as the superuser."""
        with self._connect(db) as conn:
            return list(conn.execute(sql, params).fetchall())

    def create_role(self, name: str, password: str, *, superuser: bool = False) -> str:
        """``CREATE ROLE name LOGIN`` with a SCRAM verifier; returns the DSN-ready password."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ConfigError(f"role name {name!r}: use lowercase letters, digits and _")
        verifier = scram_verifier(password)
        kind = "SUPERUSER" if superuser else "NOSUPERUSER"
        self.execute(f"CREATE ROLE {name} LOGIN {kind} PASSWORD '{verifier}'")
        self._secrets[name] = verifier
        return password

    def create_database(self, name: str, owner: str = APP_ROLE) -> None:
        """``CREATE DATABASE name OWNER owner``."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ConfigError(f"database name {name!r}: use lowercase letters, digits and _")
        self.execute(f"CREATE DATABASE {name} OWNER {owner} STRATEGY FILE_COPY")

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def temporary_server(**kwargs: Any) -> PostgresServer:
    """A started server in a fresh temp dir (stop it, or let the run's cleanup do it)."""
    return PostgresServer(make_tempdir("pg-"), **kwargs).start()
