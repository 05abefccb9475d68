"""Load a ``.sql.gz`` into a database with psql, and re-scan a database's data with pg_dump.

    >>> load_dump(Path("backups/databases/main_db_20250128_120000.sql.gz"), scratch, bindir)
    >>> scan_database(scratch, bindir).tables["public.products"].rows
    1000
    >>> create_database(admin, "prodcheck_drill_ab12", like="ecommerce")   # same owner/encoding
    >>> drop_database(admin, "prodcheck_drill_ab12")

psql runs with ``ON_ERROR_STOP`` in a single transaction: a restore that fails or is killed
part-way leaves nothing behind in the target database.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from pytest_prodcheck.backup.dsn import PgTarget, tool
from pytest_prodcheck.backup.proc import CHUNK, grow_pipe, pg_tool, stderr_tail
from pytest_prodcheck.backup.scan import DumpScanner
from pytest_prodcheck.core.errors import ConfigError, ToolError


def load_dump(
    path: Path,
    target: PgTarget,
    bindir: Path,
    *,
    on_spawn: Callable[[int], None] | None = None,
) -> float:
    """Restore the gzip'd plain dump ``path`` into ``target`` (an empty database).

    Returns the seconds psql took. ``on_spawn(pid)`` is called with psql's pid once it runs.
    Raises ToolError (corrupt data, SQL error, psql killed) — the transaction is then rolled back.
    """
    psql = tool("psql", bindir)
    argv = [str(psql), "--no-psqlrc", "--quiet", "--no-password", "--set", "ON_ERROR_STOP=1"]
    argv += ["--single-transaction", "--dbname", target.url_without_password, "--file", "-"]
    started = time.monotonic()
    decomp = zlib.decompressobj(31)
    with pg_tool(argv, target, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL) as (proc, err):
        assert proc.stdin is not None
        if on_spawn is not None:
            on_spawn(proc.pid)
        broken = False
        try:
            with path.open("rb") as src:
                while chunk := src.read(CHUNK):
                    try:
                        data = decomp.decompress(chunk)
                    except zlib.error as exc:
                        raise ToolError(
                            f"{path.name} is corrupt ({exc}); nothing was restored"
                        ) from exc
                    if data:
                        proc.stdin.write(data)
            if not decomp.eof:
                raise ToolError(
                    f"{path.name} is truncated (gzip stream ends early); nothing was restored"
                )
            proc.stdin.close()
        except BrokenPipeError:
            broken = True
        rc = proc.wait()
        if rc != 0 or broken:
            how = f"killed by signal {-rc}" if rc < 0 else f"exit {rc}"
            raise ToolError(
                f"psql restore of {path.name} into {target.dbname!r} failed ({how}): "
                f"{stderr_tail(err, target)}"
            )
    return time.monotonic() - started


def scan_database(target: PgTarget, bindir: Path) -> DumpScanner:
    """Row counts and content checksums of every table, via ``pg_dump --data-only``."""
    pg_dump = tool("pg_dump", bindir)
    argv = [
        str(pg_dump),
        "--dbname",
        target.url_without_password,
        "--no-password",
        "--data-only",
        "--encoding=UTF8",
    ]
    scanner = DumpScanner()
    with pg_tool(argv, target, stdout=subprocess.PIPE) as (proc, err):
        assert proc.stdout is not None
        grow_pipe(proc.stdout)
        read = proc.stdout.read1  # type: ignore[attr-defined]
        while chunk := read(CHUNK):
            scanner.feed(chunk)
        rc = proc.wait()
        if rc != 0:
            raise ToolError(
                f"pg_dump of {target.masked()} failed (exit {rc}): {stderr_tail(err, target)}"
            )
    scanner.close()
    return scanner


@contextlib.contextmanager
def sql_errors(action: str, target: PgTarget) -> Iterator[None]:
    """Turn a server-side error (permission, lock, lost connection) into a one-line ToolError."""
    try:
        yield
    except psycopg.Error as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        reason = target.mask(lines[0] if lines else type(exc).__name__)
        raise ToolError(f"{action} on {target.address} failed: {reason}") from exc


def create_database(admin: PgTarget, name: str, *, like: str | None = None) -> None:
    """CREATE DATABASE ``name`` from template0, copying owner/encoding/locale of ``like``."""
    with sql_errors(f"creating database {name!r}", admin), admin.connect() as conn:
        opts: sql.Composable = sql.SQL("")
        if like is not None:
            row = conn.execute(
                "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), "
                "datcollate, datctype "
                "FROM pg_database WHERE datname = %s",
                [like],
            ).fetchone()
            if row is None:
                raise ConfigError(f"database {like!r} does not exist on {admin.address}")
            owner, enc, collate, ctype = row
            opts = sql.SQL(" OWNER {} ENCODING {} LC_COLLATE {} LC_CTYPE {}").format(
                sql.Identifier(owner), sql.Literal(enc), sql.Literal(collate), sql.Literal(ctype)
            )
        try:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)) + opts
            )
        except pg_errors.InsufficientPrivilege as exc:
            raise ConfigError(
                f"{admin.masked()} may not create databases: set [database] admin_dsn to a role "
                "with CREATEDB (a superuser for restores)"
            ) from exc


def drop_database(admin: PgTarget, name: str) -> None:
    """DROP DATABASE IF EXISTS ``name`` WITH (FORCE) (ends its sessions first)."""
    with sql_errors(f"dropping database {name!r}", admin), admin.connect() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
