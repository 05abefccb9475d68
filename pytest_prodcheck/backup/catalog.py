"""What backups are there? Local files of the naming scheme with age, size and verification.

    >>> for b in list_backups(Path("backups/databases")):
    ...     print(b.path.name, b.size_bytes, b.verified)
    main_db_20250128_120000.sql.gz 24459 True
    >>> latest_backup(Path("backups/databases"), "main").age_hours(now)
    3.5

Files that do not match ``main_db_YYYYMMDD_HHMMSS.sql.gz`` / ``ai_db_…`` are never listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pytest_prodcheck.backup.manifest import Manifest, read_manifest, utc_now
from pytest_prodcheck.backup.naming import Kind, parse_name, sha256_path
from pytest_prodcheck.core.errors import ProdcheckError


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    kind: Kind
    created: datetime
    size_bytes: int
    manifest: Manifest | None
    has_checksum: bool
    problem: str = ""  # e.g. an unreadable manifest

    @property
    def verified(self) -> bool:
        return self.manifest is not None and self.manifest.verified

    def age_hours(self, now: datetime | None = None) -> float:
        return ((now or utc_now()) - self.created).total_seconds() / 3600

    @property
    def status(self) -> str:
        if self.problem:
            return self.problem
        if self.verified:
            return "verified"
        if not self.has_checksum or self.manifest is None:
            return "no checksum/manifest"
        return "not verified"


def list_backups(directory: Path, kind: Kind | None = None) -> list[BackupInfo]:
    """Backups in ``directory`` (oldest first); an absent directory has none."""
    if not directory.is_dir():
        return []
    out: list[BackupInfo] = []
    for entry in directory.iterdir():
        parsed = parse_name(entry.name)
        if parsed is None or not entry.is_file():
            continue
        k, created = parsed
        if kind is not None and k != kind:
            continue
        problem = ""
        try:
            manifest = read_manifest(entry)
        except ProdcheckError as exc:
            manifest, problem = None, str(exc)
        out.append(
            BackupInfo(
                path=entry,
                kind=k,
                created=created,
                size_bytes=entry.stat().st_size,
                manifest=manifest,
                has_checksum=sha256_path(entry).is_file(),
                problem=problem,
            )
        )
    out.sort(key=lambda b: (b.created, b.path.name))
    return out


def latest_backup(directory: Path, kind: Kind) -> BackupInfo | None:
    found = list_backups(directory, kind)
    return found[-1] if found else None


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
