"""Is a backup intact, and does it restore? Integrity first, then a restore drill.

    >>> report = check_integrity(Path("backups/databases/main_db_20250128_120000.sql.gz"))
    >>> report.kind, report.database, report.total_rows
    ('main', 'ecommerce', 6000)
    >>> drill = restore_drill(report, admin=PgTarget.from_dsn(admin_dsn))
    >>> drill.ok, drill.mismatches
    (True, ())
    >>> verify_backup(path, admin)            # both, and marks the manifest verified on success

Integrity = the file is a complete gzip stream, its SHA-256 matches the ``.sha256`` sidecar, it is
a complete plain dump, and its tables/rows/content checksums match the manifest. That proves the
file is what was written — not that it restores. The **drill** restores it into a scratch
database, re-dumps that database's data and compares every table's row count and checksum with
the manifest; only then is the backup marked verified.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from pytest_prodcheck.backup.dsn import PgTarget, find_bindir
from pytest_prodcheck.backup.dump import parse_header
from pytest_prodcheck.backup.manifest import Manifest, read_manifest, write_manifest
from pytest_prodcheck.backup.naming import parse_name, sha256_path
from pytest_prodcheck.backup.pgload import create_database, drop_database, load_dump, scan_database
from pytest_prodcheck.backup.proc import CHUNK
from pytest_prodcheck.backup.scan import DumpScanner, TableStat
from pytest_prodcheck.core.errors import ConfigError, ToolError


class InvalidBackup(ConfigError):
    """The file is not a usable backup (missing, empty, corrupt, truncated, wrong database)."""


class DrillMismatch(ToolError):
    """The restore drill failed: the dump does not load, or the restored data differs."""


@dataclass(frozen=True)
class IntegrityReport:
    path: Path
    kind: str
    database: str
    sha256: str
    size_bytes: int
    manifest: Manifest | None
    tables: tuple[TableStat, ...]

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)


@dataclass(frozen=True)
class DrillResult:
    """The outcome of restoring a backup into a scratch database."""

    path: Path
    scratch_db: str
    restore_s: float
    total_s: float
    tables: int
    rows: int
    mismatches: tuple[str, ...]

    compared_with_manifest: bool = True  # False: no manifest, the dump's own scan was the model

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def describe(self) -> str:
        """``5 tables, 6000 rows match the manifest`` or, without one, what was judged."""
        if self.compared_with_manifest:
            return f"{self.tables} tables, {self.rows} rows match the manifest"
        return (
            f"no manifest: content not compared; the restore reproduced the dump's own "
            f"{self.tables} tables, {self.rows} rows"
        )


def _read_sidecar(path: Path) -> str:
    side = sha256_path(path)
    try:
        text = side.read_bytes().decode("ascii", "replace").strip()
    except FileNotFoundError:
        raise InvalidBackup(
            f"{path.name} has no checksum file {side.name}: its integrity cannot be proven; "
            f"if you trust it, create one with `sha256sum {path.name} > {side.name}`"
        ) from None
    except OSError as exc:
        raise InvalidBackup(f"cannot read {side}: {exc.strerror or exc}") from exc
    value = text.split()[0].lower() if text else ""
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise InvalidBackup(f"{side.name} does not hold a SHA-256 checksum: recreate it")
    return value


def check_integrity(path: Path, expect_kind: str | None = None) -> IntegrityReport:
    """Raise :class:`InvalidBackup` with one line unless ``path`` is a complete, intact backup.

    With ``expect_kind`` (``"main"``/``"ai"``) a dump of the other database is refused too.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InvalidBackup(f"backup file {path} does not exist: check the path") from None
    if not path.is_file():
        raise InvalidBackup(f"{path} is not a file")
    if size == 0:
        raise InvalidBackup(f"{path.name} is empty (0 bytes): it is not a backup; use another file")
    expected_sha = _read_sidecar(path)
    digest = hashlib.sha256()
    decomp = zlib.decompressobj(31)
    scanner = DumpScanner()
    first = b""
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
                if decomp.eof:
                    continue  # trailing bytes after the gzip member: the checksum decides
                data = decomp.decompress(chunk)
                if len(first) < 512:
                    first += data[:512]
                scanner.feed(data)
    except zlib.error as exc:
        raise InvalidBackup(f"{path.name} is not a valid gzip file or is corrupt ({exc})") from exc
    except OSError as exc:
        raise InvalidBackup(f"cannot read {path}: {exc.strerror or exc}") from exc
    actual_sha = digest.hexdigest()
    if not decomp.eof:
        raise InvalidBackup(f"{path.name} is truncated: the gzip stream ends early")
    if actual_sha != expected_sha:
        raise InvalidBackup(
            f"{path.name}: SHA-256 {actual_sha[:12]}… does not match {sha256_path(path).name} "
            f"({expected_sha[:12]}…): the file was altered or damaged"
        )
    scanner.close()
    header = parse_header(first.split(b"\n", 1)[0])
    if not scanner.complete or scanner.pg_dump_version is None:
        raise InvalidBackup(f"{path.name} is not a complete pg_dump plain-format dump")
    try:
        manifest = read_manifest(path)
    except ToolError as exc:  # corrupt or hand-edited: the backup cannot be vouched for
        raise InvalidBackup(str(exc)) from exc
    named = parse_name(path.name)
    kind = header[0] if header else (manifest.kind if manifest else (named[0] if named else "?"))
    database = header[1] if header else (manifest.database if manifest else "?")
    if expect_kind is not None and kind != expect_kind:
        flag = " --ai" if kind == "ai" else " (without --ai)"
        raise InvalidBackup(
            f"{path.name} is a dump of the {kind} database ({database!r}), not of the "
            f"{expect_kind} database: restore it{flag} or pick a {expect_kind}_db_* file"
        )
    tables = tuple(scanner.tables.values())
    if manifest is not None:
        if manifest.sha256 != actual_sha:
            raise InvalidBackup(f"{path.name}: manifest checksum differs from the file's")
        diffs = compare_tables(manifest.tables, tables)
        if diffs:
            raise InvalidBackup(f"{path.name}: content differs from its manifest: {diffs[0]}")
    return IntegrityReport(path, kind, database, actual_sha, size, manifest, tables)


def compare_tables(
    expected: tuple[TableStat, ...], actual: tuple[TableStat, ...]
) -> tuple[str, ...]:
    """Human-readable differences (missing/extra tables, row counts, checksums)."""
    exp = {t.name: t for t in expected}
    act = {t.name: t for t in actual}
    out: list[str] = []
    for name in sorted(exp.keys() - act.keys()):
        out.append(f"table {name} missing ({exp[name].rows} rows expected)")
    for name in sorted(act.keys() - exp.keys()):
        out.append(f"unexpected table {name} ({act[name].rows} rows)")
    for name in sorted(exp.keys() & act.keys()):
        e, a = exp[name], act[name]
        if e.rows != a.rows:
            out.append(f"{name}: {a.rows} rows, expected {e.rows}")
        elif e.sha256 != a.sha256:
            out.append(f"{name}: content checksum differs ({a.sha256[:12]}… vs {e.sha256[:12]}…)")
    return tuple(out)


def restore_drill(
    report: IntegrityReport, admin: PgTarget, *, bindir: str | Path | None = None
) -> DrillResult:
    """Restore into a fresh scratch database, compare with the manifest, always drop it."""
    started = time.monotonic()
    version_num, _ = admin.server_version()
    bins = find_bindir(version_num, bindir)
    scratch = f"prodcheck_drill_{report.kind}_{secrets.token_hex(4)}"
    create_database(admin, scratch)
    try:
        target = admin.with_db(scratch)
        try:
            restore_s = load_dump(report.path, target, bins)
        except ToolError as exc:
            raise DrillMismatch(f"restore drill: {exc}") from exc
        redump = scan_database(target, bins)
    finally:
        drop_database(admin, scratch)
    expected = report.manifest.tables if report.manifest is not None else report.tables
    actual = tuple(redump.tables.values())
    return DrillResult(
        path=report.path,
        scratch_db=scratch,
        restore_s=round(restore_s, 3),
        total_s=round(time.monotonic() - started, 3),
        tables=len(actual),
        rows=sum(t.rows for t in actual),
        mismatches=compare_tables(expected, actual),
        compared_with_manifest=report.manifest is not None,
    )


def verify_backup(
    path: Path, admin: PgTarget, *, bindir: str | Path | None = None, expect_kind: str | None = None
) -> tuple[IntegrityReport, DrillResult]:
    """Integrity + drill; on success the manifest is marked verified (with the drill time).

    Without a manifest only what the dump itself says is judged (it is complete, it restores,
    the restore holds the dump's tables and rows: ``drill.compared_with_manifest`` False) and
    nothing is marked verified. Raises InvalidBackup for a damaged file, ToolError when the
    drill does not reproduce it.
    """
    report = check_integrity(path, expect_kind=expect_kind)
    drill = restore_drill(report, admin, bindir=bindir)
    if not drill.ok:
        model = "its manifest" if drill.compared_with_manifest else "the dump's own content"
        raise DrillMismatch(
            f"restore drill of {path.name} does not match {model}: {drill.mismatches[0]} "
            f"(+{len(drill.mismatches) - 1} more)"
        )
    if report.manifest is not None:
        write_manifest(path, report.manifest.with_verification(drill.total_s))
    return report, drill
