"""PostgreSQL connection targets for the backup tools: parse, mask, connect, hand to child tools.

    >>> t = PgTarget.from_dsn("postgresql://app:s3cret@127.0.0.1:5432/ecommerce")
    >>> t.dbname, t.masked
    ('ecommerce', 'postgresql://app:***@127.0.0.1:5432/ecommerce')
    >>> t.with_db("scratch").dbname
    'scratch'
    >>> with child_env(t) as env:     # PGPASSFILE (0600, deleted afterwards): no password in argv
    ...     subprocess.run([pg_dump, "--dbname", t.url_without_password], env=env)

Passwords never reach argv, logs or messages: child processes read them from a temporary
``PGPASSFILE``; every message uses :attr:`PgTarget.masked`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import psycopg
from psycopg import sql

from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable, ToolError
from pytest_prodcheck.core.secrets import mask_text

DEFAULT_PORT = 5432
PG_LIB_ROOT = Path("/usr/lib/postgresql")


@dataclass(frozen=True)
class PgTarget:
    """One database reachable over TCP (or a socket dir as host)."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str
    params: tuple[tuple[str, str], ...] = ()
    source: str = "[database] dsn"  # where it came from, for error messages

    @classmethod
    def from_dsn(cls, dsn: str, source: str = "[database] dsn") -> PgTarget:
        """Parse ``postgresql://user:pw@host:port/db?opt=v``; ConfigError naming ``source``."""
        if not dsn or not isinstance(dsn, str):
            raise ConfigError(
                f"{source} is empty: set it to postgresql://USER:PASSWORD@HOST:PORT/DB"
            )
        parts = urlsplit(dsn.strip())
        if parts.scheme not in ("postgresql", "postgres"):
            raise ConfigError(
                f"{source} = {mask_text(dsn)!r} is not a postgresql:// URL: "
                "use postgresql://USER:PASSWORD@HOST:PORT/DB"
            )
        dbname = unquote(parts.path.lstrip("/"))
        if not dbname:
            raise ConfigError(f"{source} = {mask_text(dsn)!r} names no database: add /DBNAME")
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError as exc:
            raise ConfigError(f"{source} = {mask_text(dsn)!r} has an invalid port") from exc
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=dbname,
            params=tuple(parse_qsl(parts.query)),
            source=source,
        )

    # -- derived forms --------------------------------------------------------------------------
    def with_db(self, dbname: str) -> PgTarget:
        """The same server and credentials, another database."""
        return replace(self, dbname=dbname)

    def _url(self, password: str | None) -> str:
        cred = quote(self.user, safe="")
        if password:
            cred += ":" + quote(password, safe="")
        host = self.host if ":" not in self.host else f"[{self.host}]"
        query = f"?{urlencode(self.params)}" if self.params else ""
        return f"postgresql://{cred}@{host}:{self.port}/{quote(self.dbname, safe='')}{query}"

    @property
    def dsn(self) -> str:
        """The full URL, with password: for in-process connections only, never for output."""
        return self._url(self.password)

    @property
    def url_without_password(self) -> str:
        """What child tools get as ``--dbname`` (the password comes from PGPASSFILE)."""
        return self._url(None)

    @property
    def masked(self) -> str:
        url = self._url(None)
        if not self.password:
            return url
        scheme, _, rest = url.partition("://")
        user, _, tail = rest.partition("@")
        return f"{scheme}://{user}:***@{tail}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def mask(self, text: str) -> str:
        """``text`` with this target's password (and any URL password) masked."""
        return mask_text(text, extra=[self.password])

    # -- connecting -------------------------------------------------------------------------------
    def connect(self, *, autocommit: bool = True, timeout: int = 10) -> psycopg.Connection[Any]:
        """Connect, or raise TargetUnreachable / ConfigError with a one-line masked reason."""
        try:
            return psycopg.connect(self.dsn, autocommit=autocommit, connect_timeout=timeout)
        except psycopg.OperationalError as exc:
            reason = self.mask(_first_line(str(exc)))
            if "password authentication failed" in reason or "no password supplied" in reason:
                raise ConfigError(
                    f"cannot log in to {self.masked} ({self.source}): {reason}: "
                    "check the user/password"
                ) from exc
            if f'database "{self.dbname}" does not exist' in reason:
                raise ConfigError(
                    f"{self.masked} ({self.source}): database {self.dbname!r} does not exist: "
                    "check the database name"
                ) from exc
            raise TargetUnreachable(
                f"cannot reach PostgreSQL at {self.address} ({self.source}): {reason}: "
                "is the server running and the DSN right?"
            ) from exc

    def server_version(self) -> tuple[int, str]:
        """``(server_version_num, server_version)``, e.g. ``(150018, '15.18 (Debian …)')``."""
        with self.connect() as conn:
            row = conn.execute(
                "SELECT current_setting('server_version_num')::int, version()"
            ).fetchone()
        assert row is not None
        num, full = int(row[0]), str(row[1])
        match = re.match(r"PostgreSQL (\S+)", full)
        return num, (match.group(1) if match else full)


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else "unknown error"


# -------------------------------------------------------------------------------------------------
# child processes
# -------------------------------------------------------------------------------------------------


def _pgpass_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


@contextlib.contextmanager
def child_env(*targets: PgTarget) -> Iterator[dict[str, str]]:
    """Environment for pg_dump/psql: a temp 0600 PGPASSFILE with the targets' passwords.

    Every inherited ``PG*`` variable is dropped so nothing overrides the explicit ``--dbname``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    env.setdefault("LC_ALL", "C.UTF-8")
    fd, name = tempfile.mkstemp(prefix="prodcheck-pgpass-")
    try:
        with os.fdopen(fd, "w") as fh:
            os.chmod(name, 0o600)
            for t in targets:
                fields = [t.host, str(t.port), "*", t.user, t.password]
                fh.write(":".join(_pgpass_escape(f) for f in fields) + "\n")
        env["PGPASSFILE"] = name
        yield env
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def find_bindir(server_version_num: int | None = None, explicit: str | Path | None = None) -> Path:
    """The directory holding pg_dump/psql for this server's major version.

    >>> find_bindir(150018)
    PosixPath('/usr/lib/postgresql/15/bin')

    Order: ``explicit`` (``[backup] pg_bindir`` / Endpoints.pg_bindir), the Debian layout for the
    server's major version, then the newest Debian version, then ``PATH``.
    """
    if explicit:
        path = Path(explicit)
        if not (path / "pg_dump").exists():
            raise ConfigError(
                f"pg_bindir {path} has no pg_dump: point it at PostgreSQL's bin directory"
            )
        return path
    if server_version_num:
        major = server_version_num // 10000
        candidate = PG_LIB_ROOT / str(major) / "bin"
        if (candidate / "pg_dump").exists():
            return candidate
    versions = sorted(
        (
            int(p.name)
            for p in PG_LIB_ROOT.glob("*")
            if p.name.isdigit() and (p / "bin/pg_dump").exists()
        ),
        reverse=True,
    )
    if versions:
        return PG_LIB_ROOT / str(versions[0]) / "bin"
    found = shutil.which("pg_dump")
    if found:
        return Path(found).parent
    raise ToolError("pg_dump not found: install the PostgreSQL client or set [backup] pg_bindir")


def tool(name: str, bindir: Path) -> Path:
    """Path of ``name`` (pg_dump, psql) in ``bindir``; ToolError when missing."""
    path = bindir / name
    if not path.exists():
        raise ToolError(f"{name} not found in {bindir}: install the PostgreSQL client tools")
    return path


def quote_ident(name: str) -> sql.Identifier:
    """A safely quoted identifier for composed SQL."""
    return sql.Identifier(name)
