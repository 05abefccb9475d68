"""Restore a backup over a live database, without ever risking the original.

    >>> result = restore_database(Path("backups/databases/main_db_20250128_120000.sql.gz"),
    ...                           target=main, kind="main", admin=admin,
    ...                           safety_dir=Path("backups/databases/safety"))
    >>> result.safety_backup.name, result.rows
    ('main_db_20250128_130501.sql.gz', 6000)

Steps, each of which must succeed before the next:

1. the file's integrity, checksum and database are checked (:func:`verify.check_integrity`);
2. ``confirm(question)`` must return True (the CLI asks, unless ``--yes``);
3. a **safety backup** of the current database is written to ``safety_dir``;
4. the backup is restored (one transaction) into a **new** database ``<db>_restore_<ts>``
   and its row counts are compared with the manifest;
5. only then are the names swapped in one transaction (``<db>`` → ``<db>_pre_restore_<ts>``,
   new → ``<db>``), other sessions ended, and the old database dropped.

Any failure before step 5 (corrupt file, wrong database, SQL error, psql killed, Ctrl-C) drops
the new database and leaves the original exactly as it was. If this process itself is killed, the
original is still untouched; a leftover ``<db>_restore_*`` database is removed by the next restore.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from psycopg import errors as pg_errors
from psycopg import sql

from pytest_prodcheck.backup.dsn import PgTarget, find_bindir
from pytest_prodcheck.backup.dump import dump_database
from pytest_prodcheck.backup.manifest import utc_now
from pytest_prodcheck.backup.naming import Kind
from pytest_prodcheck.backup.pgload import create_database, drop_database, load_dump, sql_errors
from pytest_prodcheck.backup.verify import check_integrity
from pytest_prodcheck.core.errors import ProdcheckError, ToolError


class RestoreCancelled(ProdcheckError):
    """The user answered no: nothing was changed (exit code 1)."""

    exit_code = 1


@dataclass(frozen=True)
class RestoreResult:
    database: str
    backup_file: Path
    safety_backup: Path
    tables: int
    rows: int
    duration_s: float


def _counts(target: PgTarget, names: list[str]) -> dict[str, int]:
    """Exact row counts of schema-qualified tables as pg_dump printed their names."""
    out: dict[str, int] = {}
    with sql_errors("counting the restored rows", target), target.connect() as conn:
        for name in names:
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.SQL(name))).fetchone()
            out[name] = int(row[0]) if row else -1
    return out


def _swap(admin: PgTarget, database: str, new: str, old: str, attempts: int = 20) -> None:
    """Rename ``database`` → ``old`` and ``new`` → ``database`` atomically, ending sessions."""
    with sql_errors(f"swapping in the restored {database!r}", admin), admin.connect() as conn:
        for attempt in range(attempts):
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
                [[database, new]],
            )
            try:
                with conn.transaction():
                    conn.execute(
                        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                            sql.Identifier(database), sql.Identifier(old)
                        )
                    )
                    conn.execute(
                        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                            sql.Identifier(new), sql.Identifier(database)
                        )
                    )
                return
            except pg_errors.ObjectInUse:
                if attempt == attempts - 1:
                    raise ToolError(
                        f"could not swap in the restored database: {database!r} stays in use; "
                        "stop the application and retry"
                    ) from None
                time.sleep(0.1)


def stale_restores(admin: PgTarget, database: str) -> list[str]:
    """Leftover ``<db>_restore_YYYYMMDD_HHMMSS`` databases of interrupted restores.

    Only that exact shape: a database that merely starts with ``<db>_restore_`` is never touched.
    """
    shape = re.compile(re.escape(database) + r"_restore_\d{8}_\d{6}")
    with sql_errors("listing databases", admin), admin.connect() as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            [database.replace("_", r"\_") + r"\_restore\_%"],
        ).fetchall()
    return [str(r[0]) for r in rows if shape.fullmatch(str(r[0]))]


@contextlib.contextmanager
def restore_lock(admin: PgTarget, database: str) -> Iterator[None]:
    """One restore of ``database`` at a time (a session advisory lock, freed if we die)."""
    key = f"prodcheck-restore:{database}"
    with admin.connect() as conn:
        with sql_errors("taking the restore lock", admin):
            row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [key]).fetchone()
        if not row or not row[0]:
            raise ToolError(
                f"another restore of {database!r} is running on {admin.address}: "
                "wait for it to finish; nothing was changed"
            )
        yield


def restore_database(
    path: Path,
    *,
    target: PgTarget,
    kind: Kind,
    admin: PgTarget | None,
    safety_dir: Path,
    bindir: str | Path | None = None,
    confirm: Callable[[str], bool] | None = None,
    on_spawn: Callable[[int], None] | None = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> RestoreResult:
    """Restore ``path`` over ``target``'s database; see the module docstring for the guarantees."""
    started = time.monotonic()
    database = target.dbname
    report = check_integrity(path, expect_kind=kind)
    log(f"checked {path.name}: intact, {len(report.tables)} tables, {report.total_rows} rows")
    admin = (admin or target).with_db("postgres")
    version_num, _ = target.server_version()
    bins = find_bindir(version_num, bindir)
    if confirm is not None and not confirm(
        f"Replace database {database!r} on {target.address} with {path.name}?"
    ):
        raise RestoreCancelled("restore cancelled: nothing was changed")
    with restore_lock(admin, database):
        for leftover in stale_restores(admin, database):
            drop_database(admin, leftover)
            log(f"removed {leftover!r} left by an interrupted restore")
        safety = dump_database(target, kind, safety_dir, bindir=bins)
        log(f"safety backup of {database!r}: {safety.path}")
        stamp = utc_now().strftime("%Y%m%d_%H%M%S")
        new, old = f"{database}_restore_{stamp}", f"{database}_pre_restore_{stamp}"
        created = swapped = False
        try:
            create_database(admin, new, like=database)
            created = True
            load_dump(path, admin.with_db(new), bins, on_spawn=on_spawn)
            expected = {t.name: t.rows for t in report.tables}
            actual = _counts(admin.with_db(new), list(expected))
            wrong = [
                f"{n}: {actual[n]} rows, expected {r}"
                for n, r in expected.items()
                if actual[n] != r
            ]
            if wrong:
                raise ToolError(f"restored data does not match {path.name}: {wrong[0]}")
            _swap(admin, database, new, old)
            swapped = True
        except BaseException as exc:
            if created:  # never drop a database this run did not create
                with contextlib.suppress(ProdcheckError):
                    drop_database(admin, new)
            if isinstance(exc, ProdcheckError):
                raise ToolError(
                    f"{exc} — database {database!r} was left unchanged; "
                    f"safety backup: {safety.path}"
                ) from exc
            raise
        finally:
            if swapped:
                with contextlib.suppress(ProdcheckError):
                    drop_database(admin, old)
    log(f"restored {path.name} into {database!r}")
    return RestoreResult(
        database=database,
        backup_file=path,
        safety_backup=safety.path,
        tables=len(report.tables),
        rows=report.total_rows,
        duration_s=round(time.monotonic() - started, 3),
    )
