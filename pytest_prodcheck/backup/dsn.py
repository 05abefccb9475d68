"""PostgreSQL targets for the backup tools: a :class:`~pytest_prodcheck.core.dsn.Dsn` that can
connect, tell its server version and hand its password to child tools; where pg_dump lives.

    >>> t = PgTarget.from_dsn("postgresql://app:s3cret@127.0.0.1:5432/ecommerce")
    >>> t.dbname, t.masked()
    ('ecommerce', 'postgresql://app:***@127.0.0.1:5432/ecommerce')
    >>> t.with_db("scratch").dbname
    'scratch'
    >>> with child_env(t) as env:     # PGPASSWORD in the child's environment only: not in argv
    ...     subprocess.run([pg_dump, "--dbname", t.url_without_password], env=env)

Passwords never reach argv, logs, messages or the disk: child processes get them as
``PGPASSWORD`` in their own environment; every message uses :meth:`PgTarget.masked`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from pytest_prodcheck.core.dsn import DEFAULT_PORT, Dsn
from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable, ToolError

__all__ = ["DEFAULT_PORT", "PgTarget", "child_env", "find_bindir", "quote_ident", "tool"]

PG_LIB_ROOT = Path("/usr/lib/postgresql")


@dataclass(frozen=True, repr=False)
class PgTarget(Dsn):
    """One database reachable over TCP (or a socket dir as host): host defaults to 127.0.0.1,
    user to postgres, and the database must be named."""

    source: str = field(default="[database] dsn", compare=False)  # for error messages

    @classmethod
    def from_dsn(cls, dsn: str, source: str = "[database] dsn") -> PgTarget:
        """Parse a URL or key=value DSN naming a database; ConfigError naming ``source``."""
        target = cls.parse(dsn, source, require_database=True)
        assert isinstance(target, PgTarget)
        return replace(target, host=target.host or "127.0.0.1", user=target.user or "postgres")

    # -- derived forms --------------------------------------------------------------------------
    def with_db(self, dbname: str) -> PgTarget:
        """The same server and credentials, another database."""
        return replace(self, dbname=dbname)

    @property
    def dsn(self) -> str:
        """The full URL, with password: for in-process connections only, never for output."""
        return self.url()

    @property
    def url_without_password(self) -> str:
        """What child tools get as ``--dbname`` (the password comes from :func:`child_env`)."""
        return self.url(password=False)

    # -- connecting -------------------------------------------------------------------------------
    def connect(self, *, autocommit: bool = True, timeout: int = 10) -> psycopg.Connection[Any]:
        """Connect, or raise TargetUnreachable / ConfigError with a one-line masked reason."""
        try:
            return psycopg.connect(self.conninfo(), autocommit=autocommit, connect_timeout=timeout)
        except psycopg.OperationalError as exc:
            reason = self.mask(_first_line(str(exc)))
            if "password authentication failed" in reason or "no password supplied" in reason:
                raise ConfigError(
                    f"cannot log in to {self.masked()} ({self.source}): {reason}: "
                    "check the user/password"
                ) from exc
            if f'database "{self.dbname}" does not exist' in reason:
                raise ConfigError(
                    f"{self.masked()} ({self.source}): database {self.dbname!r} does not exist: "
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


@contextlib.contextmanager
def child_env(target: PgTarget) -> Iterator[dict[str, str]]:
    """Environment for pg_dump/psql: the target's password as ``PGPASSWORD``, nothing on disk.

    Every inherited ``PG*`` variable is dropped so nothing overrides the explicit ``--dbname``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    env.setdefault("LC_ALL", "C.UTF-8")
    env |= target.libpq_env()  # PGPASSWORD with the rest: --dbname still wins for what it says
    yield env


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
