"""``pg_dump`` → gzip → file in one pass, with the SHA-256 and the manifest computed on the fly.

    >>> result = dump_database(PgTarget.from_dsn(dsn), "main", Path("backups/databases"))
    >>> result.path.name, result.manifest.total_rows
    ('main_db_20250128_120000.sql.gz', 1234)
    >>> result.path.stat().st_mode & 0o777 == 0o600
    True

The file is written under a hidden temp name, fsynced, its ``.sha256`` and ``.manifest.json``
written, and only then renamed into place: a visible ``*_db_*.sql.gz`` is always complete. Its first
line is a comment naming the database (``-- prodcheck-backup: kind=main database=ecommerce …``) so
a restore can refuse a dump of the other database even when the file was renamed.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import subprocess
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pytest_prodcheck.backup.dsn import PgTarget, find_bindir, tool
from pytest_prodcheck.backup.manifest import Manifest, iso, utc_now, write_manifest
from pytest_prodcheck.backup.naming import Kind, backup_name, manifest_path, sha256_path
from pytest_prodcheck.backup.proc import CHUNK, grow_pipe, pg_tool, stderr_tail
from pytest_prodcheck.backup.scan import DumpScanner
from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.core.files import atomic_file, ensure_dir, write_text_atomic

HEADER_PREFIX = b"-- prodcheck-backup:"
_HEADER_RE = re.compile(rb"^-- prodcheck-backup: kind=(?P<kind>\w+) database=(?P<db>\S+)")


@dataclass(frozen=True)
class DumpResult:
    path: Path
    manifest: Manifest


def header_line(kind: Kind, database: str, created: datetime) -> bytes:
    return f"-- prodcheck-backup: kind={kind} database={database} created={iso(created)}\n".encode()


def parse_header(line: bytes | None) -> tuple[str, str] | None:
    """``(kind, database)`` from a backup's first line, None if it has no prodcheck header."""
    if not line:
        return None
    match = _HEADER_RE.match(line)
    return (match["kind"].decode(), match["db"].decode()) if match else None


def _free_name(out_dir: Path, kind: Kind, when: datetime) -> tuple[Path, datetime]:
    """Two backups in the same second get consecutive timestamps, never the same name."""
    while (out_dir / backup_name(kind, when)).exists():
        when += timedelta(seconds=1)
    return out_dir / backup_name(kind, when), when


def dump_database(
    target: PgTarget,
    kind: Kind,
    out_dir: Path,
    *,
    bindir: str | Path | None = None,
    now: datetime | None = None,
    compresslevel: int = 6,
) -> DumpResult:
    """Back up ``target`` into ``out_dir``; raise TargetUnreachable / ToolError with one line."""
    ensure_dir(out_dir)
    version_num, version = target.server_version()
    pg_dump = tool("pg_dump", find_bindir(version_num, bindir))
    path, created = _free_name(out_dir, kind, now or utc_now())
    argv = [
        str(pg_dump),
        "--dbname",
        target.url_without_password,
        "--no-password",
        "--format=plain",
        "--encoding=UTF8",
    ]
    scanner = DumpScanner()
    digest = hashlib.sha256()
    size = 0
    started = time.monotonic()
    comp = zlib.compressobj(compresslevel, zlib.DEFLATED, 31)  # 31 = gzip container
    try:
        with atomic_file(path) as fh, pg_tool(argv, target, stdout=subprocess.PIPE) as (proc, err):
            assert proc.stdout is not None
            grow_pipe(proc.stdout)

            def emit(data: bytes) -> None:
                nonlocal size
                if data:
                    fh.write(data)
                    digest.update(data)
                    size += len(data)

            emit(comp.compress(header_line(kind, target.dbname, created)))
            read = proc.stdout.read1  # type: ignore[attr-defined]
            while chunk := read(CHUNK):
                scanner.feed(chunk)
                emit(comp.compress(chunk))
            emit(comp.flush())
            rc = proc.wait()
            if rc != 0:
                raise ToolError(
                    f"pg_dump of {target.masked()} failed (exit {rc}): {stderr_tail(err, target)}"
                )
            scanner.close()
            if not scanner.complete or scanner.pg_dump_version is None:
                raise ToolError(f"pg_dump of {target.masked()} ended early: the dump is incomplete")
            duration = time.monotonic() - started
            manifest = Manifest(
                file=path.name,
                kind=kind,
                database=target.dbname,
                created_at=iso(created),
                server_version=scanner.server_version or version,
                pg_dump_version=scanner.pg_dump_version,
                duration_s=round(duration, 3),
                size_bytes=size,
                sha256=digest.hexdigest(),
                tables=tuple(scanner.tables.values()),
            )
            # sidecars first: a visible backup file always has its checksum and manifest
            write_text_atomic(sha256_path(path), f"{manifest.sha256}  {path.name}\n")
            write_manifest(path, manifest)
    except BaseException:
        if not path.exists():  # never leave sidecars of a backup that was not completed
            for side in (sha256_path(path), manifest_path(path)):
                with contextlib.suppress(OSError):
                    side.unlink()
        raise
    return DumpResult(path, manifest)
