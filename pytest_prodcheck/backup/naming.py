"""The guide's backup names: ``main_db_YYYYMMDD_HHMMSS.sql.gz`` and ``ai_db_…`` (UTC), and sidecars.

    >>> from datetime import datetime, UTC
    >>> backup_name("main", datetime(2025, 1, 28, 12, 0, tzinfo=UTC))
    'main_db_20250128_120000.sql.gz'
    >>> parse_name("ai_db_20250128_120000.sql.gz")
    ('ai', datetime.datetime(2025, 1, 28, 12, 0, tzinfo=datetime.timezone.utc))
    >>> parse_name("notes.txt") is None
    True
    >>> sha256_path(Path("main_db_20250128_120000.sql.gz")).name
    'main_db_20250128_120000.sql.gz.sha256'

Only files matching this scheme are ever listed, pruned or uploaded by the tools.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

Kind = Literal["main", "ai"]
KINDS: tuple[Kind, ...] = ("main", "ai")
NAME_RE = re.compile(r"^(?P<kind>main|ai)_db_(?P<ts>\d{8}_\d{6})\.sql\.gz$")
TS_FORMAT = "%Y%m%d_%H%M%S"


def backup_name(kind: Kind, when: datetime) -> str:
    """The file name for a backup of ``kind`` taken at ``when`` (converted to UTC)."""
    return f"{kind}_db_{when.astimezone(UTC).strftime(TS_FORMAT)}.sql.gz"


def parse_name(name: str) -> tuple[Kind, datetime] | None:
    """``(kind, created_utc)`` for a name of the scheme, else None."""
    match = NAME_RE.match(name)
    if not match:
        return None
    try:
        created = datetime.strptime(match["ts"], TS_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    kind: Kind = "main" if match["kind"] == "main" else "ai"
    return kind, created


def sha256_path(path: Path) -> Path:
    """``<file>.sha256``: ``sha256sum`` format, so ``sha256sum -c`` works too."""
    return path.with_name(path.name + ".sha256")


def manifest_path(path: Path) -> Path:
    """``<file>.manifest.json``: tables, row counts, checksums, versions, verification."""
    return path.with_name(path.name + ".manifest.json")


def sidecars(path: Path) -> tuple[Path, Path]:
    return sha256_path(path), manifest_path(path)


def kind_of(value: str) -> Kind:
    """``"main"``/``"ai"`` from a CLI/config value."""
    if value not in KINDS:
        raise ValueError(f"unknown database kind {value!r}: use main or ai")
    return "main" if value == "main" else "ai"
