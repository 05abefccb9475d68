"""PgBouncer 1.18 in front of a :class:`PostgresServer`, rendered from ``conf/pgbouncer.ini.j2``.

    >>> pgb = PgBouncerServer(make_tempdir("pgb-"), pg).start()    # the guide's settings
    >>> pgb.dsn("ecommerce")          # app role through the pooler
    'postgresql://app:...@127.0.0.1:41234/ecommerce'
    >>> pgb.admin_dsn                 # admin console (connect with autocommit=True)
    'postgresql://pgb_admin:...@127.0.0.1:41234/pgbouncer'
    >>> wrong = PgBouncerOptions(pool_mode="session", default_pool_size=200)   # one wrong knob
    >>> pgb.reload(replace(pgb.options, max_db_connections=0))                 # RELOAD in place
    >>> pgb.stop()
    >>> restart = pidfile_restarter(pgb.ini_path)   # what systemctl restart does, by its pidfile

``auth_mode="scram-secret"`` (default) copies the SCRAM verifiers from ``pg_authid`` into the auth
file, so no plaintext password is on disk and PgBouncer can pass SCRAM through to the server;
``"plaintext"`` writes passwords in clear (the deliberately bad form). Admin (``pgb_admin``) and
stats (``pgb_stats``) users exist only in PgBouncer. Through PgBouncer always connect with
``prepare_threshold=None`` (1.18 has no prepared statements under transaction pooling).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable, ToolError
from pytest_prodcheck.core.files import replace_file
from pytest_prodcheck.core.ports import free_port, wait_port
from pytest_prodcheck.core.proc import (
    ManagedProcess,
    raise_nofile_limit,
    running_processes,
    service_account,
)
from pytest_prodcheck.guide import PGBOUNCER
from pytest_prodcheck.stack._templates import render
from pytest_prodcheck.stack.postgres import (
    APP_ROLE,
    PostgresServer,
    dsn,
    new_password,
    scram_verifier,
)

PGBOUNCER_BIN = os.environ.get("PRODCHECK_PGBOUNCER", "/usr/sbin/pgbouncer")
ADMIN_USER = "pgb_admin"
STATS_USER = "pgb_stats"
_POOL_MODES = ("session", "transaction", "statement")


@dataclass(frozen=True)
class PgBouncerOptions:
    """pgbouncer.ini values; defaults are the deployment guide's.

    ``extra`` adds or overrides any other key: ``PgBouncerOptions(extra=(("max_user_connections",
    "50"),))``.
    """

    pool_mode: str = PGBOUNCER.pool_mode
    max_client_conn: int = PGBOUNCER.max_client_conn
    default_pool_size: int = PGBOUNCER.default_pool_size
    reserve_pool_size: int = PGBOUNCER.reserve_pool_size
    reserve_pool_timeout: int = 5
    max_db_connections: int = PGBOUNCER.max_db_connections
    server_idle_timeout: int = PGBOUNCER.server_idle_timeout
    client_idle_timeout: int = PGBOUNCER.client_idle_timeout
    server_connect_timeout: int = PGBOUNCER.server_connect_timeout
    auth_mode: Literal["scram-secret", "plaintext"] = "scram-secret"
    auth_type: str = "scram-sha-256"
    listen_addr: str = "127.0.0.1"
    listen_port: int | None = None  # None = a free port
    server_host: str = ""  # "" = the PostgresServer's own address
    unix_socket_dir: str = ""  # "" = no Unix socket (Debian's default dir is shared)
    databases: tuple[str, ...] = ("ecommerce", "ai")
    admin_user: str = ADMIN_USER
    stats_user: str = STATS_USER
    ignore_startup_parameters: str = "extra_float_digits"
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.pool_mode not in _POOL_MODES:
            raise ConfigError(f"pgbouncer pool_mode={self.pool_mode!r}: use one of {_POOL_MODES}")
        if self.auth_mode not in ("scram-secret", "plaintext"):
            raise ConfigError(
                f"pgbouncer auth_mode={self.auth_mode!r}: use 'scram-secret' or 'plaintext'"
            )
        for name in ("max_client_conn", "default_pool_size", "reserve_pool_size"):
            if getattr(self, name) < 0:
                raise ConfigError(f"pgbouncer {name} must be >= 0")


def render_pgbouncer_ini(
    options: PgBouncerOptions,
    *,
    server_port: int,
    listen_port: int,
    auth_file: str,
    pidfile: str = "",
    logfile: str = "",
) -> str:
    """The pgbouncer.ini text (``options.server_host`` "" means 127.0.0.1).

    >>> "pool_mode = transaction" in render_pgbouncer_ini(PgBouncerOptions(), server_port=5432,
    ...                                                   listen_port=6432, auth_file="/a")
    True
    """
    if not options.server_host:
        options = replace(options, server_host="127.0.0.1")
    return render(
        "pgbouncer.ini.j2",
        o=options,
        server_port=server_port,
        listen_port=listen_port,
        auth_file=auth_file,
        pidfile=pidfile,
        logfile=logfile,
    )


def render_userlist(entries: Mapping[str, str]) -> str:
    """``"user" "secret"`` lines (secret = SCRAM verifier or plaintext)."""

    def q(s: str) -> str:
        return '"' + s.replace('"', '""') + '"'

    return "".join(f"{q(user)} {q(secret)}\n" for user, secret in entries.items())


@dataclass
class PgBouncerServer:
    """One PgBouncer process in ``workdir`` pooling ``pg``'s databases.

    ``users`` maps app roles to passwords (default: the app role of ``pg``).
    """

    workdir: Path
    pg: PostgresServer
    options: PgBouncerOptions = field(default_factory=PgBouncerOptions)
    users: Mapping[str, str] | None = None
    admin_password: str = field(default_factory=new_password)
    stats_password: str = field(default_factory=new_password)
    process: ManagedProcess = field(default_factory=lambda: ManagedProcess("pgbouncer"))

    def __post_init__(self) -> None:
        self.port = self.options.listen_port or free_port(self.options.listen_addr)
        self.account = service_account("postgres")
        if self.users is None:
            self.users = {APP_ROLE: self.pg.app_password}

    # -- DSNs ------------------------------------------------------------------------------------
    def dsn(self, db: str = "ecommerce", user: str = APP_ROLE, password: str | None = None) -> str:
        """DSN of ``user`` on ``db`` through PgBouncer."""
        assert self.users is not None
        if password is None:
            if user not in self.users:
                raise ConfigError(f"no password known for PgBouncer user {user!r}: pass password=")
            password = self.users[user]
        return dsn(user, password, self.port, db, self.host)

    @property
    def host(self) -> str:
        return self.options.listen_addr

    @property
    def admin_dsn(self) -> str:
        return dsn(self.options.admin_user, self.admin_password, self.port, "pgbouncer", self.host)

    @property
    def stats_dsn(self) -> str:
        return dsn(self.options.stats_user, self.stats_password, self.port, "pgbouncer", self.host)

    def passwords(self) -> list[str]:
        assert self.users is not None
        return [self.admin_password, self.stats_password, *self.users.values()]

    # -- files -----------------------------------------------------------------------------------
    @property
    def ini_path(self) -> Path:
        return self.workdir / "pgbouncer.ini"

    @property
    def auth_file(self) -> Path:
        return self.workdir / "userlist.txt"

    @property
    def log_path(self) -> Path:
        return self.workdir / "pgbouncer.log"

    def _auth_entries(self) -> dict[str, str]:
        assert self.users is not None
        plain = self.options.auth_mode == "plaintext"
        entries: dict[str, str] = {}
        for user, password in self.users.items():
            entries[user] = password if plain else self.pg.scram_secret(user)
        admin, stats = self.admin_password, self.stats_password
        entries[self.options.admin_user] = admin if plain else scram_verifier(admin)
        entries[self.options.stats_user] = stats if plain else scram_verifier(stats)
        return entries

    def write_config(self) -> Path:
        """Render pgbouncer.ini + userlist.txt (0600, owned by the service user)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o711)
        options = self.options
        if not options.server_host:
            options = replace(options, server_host=self.pg.host)
        ini = render_pgbouncer_ini(
            options,
            server_port=self.pg.port,
            listen_port=self.port,
            auth_file=str(self.auth_file),
            pidfile=str(self.pidfile),
        )
        for path, text in (
            (self.ini_path, ini),
            (self.auth_file, render_userlist(self._auth_entries())),
        ):
            replace_file(path, text, mode=0o600, owner=self.account)
        if self.account is not None:
            os.chown(self.workdir, *self.account)
        return self.ini_path

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> PgBouncerServer:
        """Write the config, start PgBouncer, return once its port accepts connections."""
        if not Path(PGBOUNCER_BIN).exists():
            raise ToolError(f"pgbouncer not found at {PGBOUNCER_BIN}: install pgbouncer")
        self.write_config()
        raise_nofile_limit(max(8192, self.options.max_client_conn * 2 + 512))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.process = ManagedProcess("pgbouncer")
        self.process.start(
            [PGBOUNCER_BIN, str(self.ini_path)],
            user=self.account,
            env=env,
            cwd=self.workdir,
            log_path=self.log_path,
        )
        try:
            wait_port(self.options.listen_addr, self.port, timeout, proc=self.process)
        except (ToolError, TargetUnreachable) as exc:
            tail = self.process.log_tail()
            self.stop()
            raise ToolError(f"PgBouncer did not start on port {self.port}: {tail}") from exc
        return self

    def admin(self, command: str) -> list[tuple[object, ...]]:
        """Run one admin-console command (``SHOW POOLS``, ``RELOAD`` …); rows, if any."""
        import psycopg

        with psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(command.encode())
            return list(cur.fetchall()) if cur.description else []

    def reload(self, options: PgBouncerOptions | None = None) -> None:
        """Re-render the config (optionally with new ``options``) and ``RELOAD`` it in place.

        Settings PgBouncer cannot change online (``listen_*``, ``unix_socket_dir``) need
        :meth:`restart`.
        """
        if options is not None:
            if options.listen_port not in (None, self.port):
                raise ConfigError("listen_port cannot change on reload: use restart()")
            self.options = options
        if not self.process.alive:
            raise ToolError(f"PgBouncer is not running: {self.process.log_tail()}")
        self.write_config()
        self.admin("RELOAD")

    def restart(self, options: PgBouncerOptions | None = None, timeout: float = 10.0) -> None:
        """Stop and start again (same port unless ``options.listen_port`` says otherwise)."""
        if options is not None:
            self.options = options
            self.port = options.listen_port or self.port
        self.stop()
        self.start(timeout)

    @property
    def pidfile(self) -> Path:
        return self.workdir / "pgbouncer.pid"

    def stop(self) -> None:
        """Immediate shutdown (SIGTERM in 1.18); the process group is killed if it lingers.

        A PgBouncer that someone else restarted from our ini (e.g. by its pidfile) goes too.
        """
        self.process.stop(signal.SIGTERM, timeout=3)
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(self.pidfile.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if str(self.ini_path).encode() in cmdline:
                os.kill(pid, signal.SIGTERM)

    def set_users(self, users: Mapping[str, str]) -> None:
        """Replace the app users (call :meth:`reload`)."""
        self.users = dict(users)

    def __enter__(self) -> PgBouncerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()


# -- restarting a PgBouncer by its pidfile (what systemctl restart does) ---------------------


def _ini_value(text: str, key: str) -> str | None:
    m = re.search(rf"^\s*{key}\s*=\s*(.*?)\s*$", text, re.MULTILINE)
    return m.group(1) if m else None


def pidfile_restarter(ini_path: str | Path, timeout: float = 10.0) -> Callable[[], None]:
    """A restart handle for a PgBouncer running on this host from ``ini_path`` (what
    ``systemctl restart pgbouncer`` does): stop the pid in its ``pidfile``, start
    ``pgbouncer ini_path`` again as the ini's owner, wait for ``listen_port``.

    >>> restart = pidfile_restarter(endpoints.extras["pgbouncer_ini"])
    >>> run_failover(pgbouncer_dsn, direct_dsn, restart)     # probes.pooling_failover

    When that pid is a process this run started (the embedded stack's PgBouncer), the *same*
    :class:`~pytest_prodcheck.core.proc.ManagedProcess` is restarted in place, so its owner
    (``LocalStack.pgbouncer``) keeps a handle on the live process: its ``reload()`` and ``stop()``
    act on the new PgBouncer. A PgBouncer started elsewhere is SIGTERMed and replaced by a process
    tracked by this run (stopped at exit at the latest).
    """
    ini = Path(ini_path)
    try:
        text = ini.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read PgBouncer config {ini}: {exc.strerror}") from None
    pidfile, port = _ini_value(text, "pidfile"), _ini_value(text, "listen_port")
    addr = (_ini_value(text, "listen_addr") or "127.0.0.1").split(",")[0].strip()
    if not pidfile or not port or not port.isdigit():
        raise ConfigError(f"{ini} names no pidfile/listen_port: cannot restart that PgBouncer")

    def restart() -> None:
        pid = _read_pid(pidfile)
        if pid is None:
            raise ToolError(f"PgBouncer pidfile {pidfile} unreadable: is it running?")
        ours = next((p for p in running_processes() if p.alive and p.pid == pid), None)
        if ours is not None:
            proc = ours
            proc.stop(signal.SIGTERM, timeout=timeout)  # 1.18: immediate shutdown
            log_path = proc.log_path
        else:
            _terminate(pid, timeout)
            proc = ManagedProcess("pgbouncer (restarted)")
            log_path = ini.parent / "pgbouncer-restarted.log"
        st = ini.stat()
        user = (st.st_uid, st.st_gid) if os.geteuid() == 0 and st.st_uid != 0 else None
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        proc.start([PGBOUNCER_BIN, str(ini)], user=user, env=env, cwd=ini.parent, log_path=log_path)
        wait_port(addr, int(port), timeout, proc=proc)
        # PgBouncer may accept before its pidfile is written: done only once it names the new pid
        deadline = time.monotonic() + timeout
        while _read_pid(pidfile) != proc.pid:
            if time.monotonic() > deadline or not proc.alive:
                raise ToolError(f"restarted PgBouncer did not write its pidfile {pidfile}")
            time.sleep(0.005)

    return restart


def _read_pid(pidfile: str) -> int | None:
    try:
        return int(Path(pidfile).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM a process that is not our child and wait until it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists():
        try:
            if "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text():
                return  # exited; its parent reaps it later
        except OSError:
            return
        if time.monotonic() > deadline:
            raise ToolError(f"PgBouncer (pid {pid}) did not exit within {timeout:g} s")
        time.sleep(0.005)


__all__ = [
    "ADMIN_USER",
    "STATS_USER",
    "PgBouncerOptions",
    "PgBouncerServer",
    "pidfile_restarter",
    "render_pgbouncer_ini",
    "render_userlist",
]
