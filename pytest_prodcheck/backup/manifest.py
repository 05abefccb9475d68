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

The manifest is bound to its dump (``sha256`` is the dump file's, compared by every verify) and
checksummed itself: ``manifest_sha256`` is the SHA-256 of its canonical JSON (sorted keys, no
whitespace, without that field), written by :func:`write_manifest` and checked by
:func:`read_manifest`, so a hand-edited manifest (rows, checksums, ``verified``) is refused with
one line instead of vouching for a dump it does not describe.
"""

from __future__ import annotations

import hashlib
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


CHECKSUM_KEY = "manifest_sha256"


def manifest_checksum(data: dict[str, Any]) -> str:
    """SHA-256 of ``data``'s canonical JSON, ``manifest_sha256`` itself left out."""
    body = {k: v for k, v in data.items() if k != CHECKSUM_KEY}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def write_manifest(backup: Path, manifest: Manifest) -> Path:
    """Write (or replace) the manifest next to ``backup`` atomically, with its own checksum."""
    path = manifest_path(backup)
    data = manifest.to_dict()
    data[CHECKSUM_KEY] = manifest_checksum(data)
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def read_manifest(backup: Path) -> Manifest | None:
    """The manifest of ``backup``; None if there is none; ToolError if it is unreadable."""
    path = manifest_path(backup)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ToolError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw.decode("utf-8"))
        manifest = Manifest.from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ToolError(
            f"manifest {path} is corrupt ({type(exc).__name__}): re-run the backup, or delete "
            "it to verify the dump without a manifest"
        ) from exc
    stored = data.get(CHECKSUM_KEY)
    if stored != manifest_checksum(data):
        why = "has no manifest_sha256" if stored is None else "does not match its manifest_sha256"
        raise ToolError(
            f"manifest {path.name} {why}: it was edited by hand (or by an old version); "
            "re-run the backup, or delete it to verify the dump without a manifest"
        )
    return manifest
