"""The ``<backup>.manifest.json`` sidecar: what is in a backup and whether a drill proved it.

>>> m = Manifest(file="main_db_20250128_120000.sql.gz", kind="main", database="ecommerce",
...              created_at="2025-01-28T12:00:00Z", server_version="15.18", pg_dump_version="15.18",
...              duration_s=1.2, size_bytes=4096, sha256="ab…",
...              tables=(TableStat("public.t", 2, "cd…"),))
>>> write_manifest(Path("backups/main_db_20250128_120000.sql.gz"), m)
>>> read_manifest(Path("backups/main_db_20250128_120000.sql.gz")).verified
False
>>> m.with_verification(drill_s=3.4).verified
True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pytest_prodcheck.backup.naming import manifest_path
from pytest_prodcheck.backup.scan import TableStat
from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.core.files import write_text_atomic

SCHEMA_VERSION = 1


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Manifest:
    file: str
    kind: str
    database: str
    created_at: str
    server_version: str
    pg_dump_version: str
    duration_s: float
    size_bytes: int
    sha256: str
    tables: tuple[TableStat, ...]
    verified: bool = False
    verified_at: str | None = None
    drill_s: float | None = None
    schema_version: int = SCHEMA_VERSION

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def table_map(self) -> dict[str, TableStat]:
        return {t.name: t for t in self.tables}

    def with_verification(self, drill_s: float, when: datetime | None = None) -> Manifest:
        """A copy marked verified (only call after a successful restore drill)."""
        return replace(
            self, verified=True, verified_at=iso(when or utc_now()), drill_s=round(drill_s, 3)
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tables"] = [asdict(t) for t in self.tables]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        tables = tuple(
            TableStat(str(t["name"]), int(t["rows"]), str(t["sha256"])) for t in data["tables"]
        )
        return cls(
            file=str(data["file"]),
            kind=str(data["kind"]),
            database=str(data["database"]),
            created_at=str(data["created_at"]),
            server_version=str(data["server_version"]),
            pg_dump_version=str(data["pg_dump_version"]),
            duration_s=float(data["duration_s"]),
            size_bytes=int(data["size_bytes"]),
            sha256=str(data["sha256"]),
            tables=tables,
            verified=bool(data.get("verified", False)),
            verified_at=data.get("verified_at"),
            drill_s=data.get("drill_s"),
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
        )


def write_manifest(backup: Path, manifest: Manifest) -> Path:
    """Write (or replace) the manifest next to ``backup`` atomically; returns its path."""
    path = manifest_path(backup)
    write_text_atomic(path, json.dumps(manifest.to_dict(), indent=2, sort_keys=True) + "\n")
    return path


def read_manifest(backup: Path) -> Manifest | None:
    """The manifest of ``backup``; None if there is none; ToolError if it is unreadable."""
    path = manifest_path(backup)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ToolError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return Manifest.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError) as exc:
        raise ToolError(
            f"manifest {path} is corrupt ({type(exc).__name__}): re-run the backup or "
            "`prodcheck backups verify` on it"
        ) from exc
