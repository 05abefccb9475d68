"""Naming, manifest round trip, catalog listing (atomic writes: test_core_files.py)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_prodcheck.backup.catalog import human_size, latest_backup, list_backups
from pytest_prodcheck.backup.manifest import Manifest, read_manifest, write_manifest
from pytest_prodcheck.backup.naming import (
    backup_name,
    manifest_path,
    parse_name,
    sha256_path,
)
from pytest_prodcheck.backup.scan import TableStat
from pytest_prodcheck.core.errors import ConfigError, ToolError
from pytest_prodcheck.core.files import ensure_dir

WHEN = datetime(2025, 1, 28, 12, 0, tzinfo=UTC)


def _manifest(name: str = "main_db_20250128_120000.sql.gz", verified: bool = False) -> Manifest:
    return Manifest(
        file=name,
        kind="main",
        database="ecommerce",
        created_at="2025-01-28T12:00:00Z",
        server_version="15.20",
        pg_dump_version="15.20",
        duration_s=1.5,
        size_bytes=10,
        sha256="a" * 64,
        tables=(TableStat("public.t", 2, "b" * 64),),
        verified=verified,
    )


def test_names_follow_the_guide():
    assert backup_name("main", WHEN) == "main_db_20250128_120000.sql.gz"
    assert backup_name("ai", WHEN) == "ai_db_20250128_120000.sql.gz"
    assert parse_name("main_db_20250128_120000.sql.gz") == ("main", WHEN)
    for bad in (
        "main_db_20250128_120000.sql",
        "x_db_20250128_120000.sql.gz",
        "main_db_20251328_120000.sql.gz",
        ".main_db_20250128_120000.sql.gz.partial",
    ):
        assert parse_name(bad) is None
    p = Path("d/main_db_20250128_120000.sql.gz")
    assert sha256_path(p).name.endswith(".sql.gz.sha256")
    assert manifest_path(p).name.endswith(".sql.gz.manifest.json")


def test_manifest_round_trip_and_verification(tmp_path: Path):
    backup = tmp_path / "main_db_20250128_120000.sql.gz"
    m = _manifest()
    write_manifest(backup, m)
    assert (manifest_path(backup).stat().st_mode & 0o777) == 0o600
    assert read_manifest(backup) == m
    v = m.with_verification(2.5, when=WHEN)
    assert v.verified and v.verified_at == "2025-01-28T12:00:00Z" and v.drill_s == 2.5
    assert read_manifest(tmp_path / "main_db_20250101_000000.sql.gz") is None


def test_corrupt_manifest_is_a_clear_error(tmp_path: Path):
    backup = tmp_path / "main_db_20250128_120000.sql.gz"
    manifest_path(backup).write_text("{not json")
    with pytest.raises(ToolError, match="is corrupt"):
        read_manifest(backup)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_dir_is_config_error(tmp_path: Path):  # pragma: no cover - not root
    d = tmp_path / "ro"
    d.mkdir(mode=0o500)
    with pytest.raises(ConfigError):
        ensure_dir(d)


def test_ensure_dir_on_a_file_is_config_error(tmp_path: Path):
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(ConfigError, match="cannot create backup directory"):
        ensure_dir(f / "sub")


def test_catalog_lists_only_the_scheme(tmp_path: Path):
    for name in (
        "main_db_20250101_000000.sql.gz",
        "main_db_20250128_120000.sql.gz",
        "ai_db_20250127_000000.sql.gz",
        "notes.txt",
        "main_db_latest.sql.gz",
    ):
        (tmp_path / name).write_bytes(b"x" * 10)
    write_manifest(tmp_path / "main_db_20250128_120000.sql.gz", _manifest(verified=True))
    names = [b.path.name for b in list_backups(tmp_path)]
    assert names == [
        "main_db_20250101_000000.sql.gz",
        "ai_db_20250127_000000.sql.gz",
        "main_db_20250128_120000.sql.gz",
    ]
    latest = latest_backup(tmp_path, "main")
    assert latest is not None and latest.verified and latest.status == "verified"
    assert latest.age_hours(datetime(2025, 1, 28, 15, 0, tzinfo=UTC)) == 3.0
    assert list_backups(tmp_path / "absent") == []
    assert human_size(1536) == "1.5 KB"
    (manifest_path(tmp_path / "ai_db_20250127_000000.sql.gz")).write_text(json.dumps({"x": 1}))
    ai = latest_backup(tmp_path, "ai")
    assert ai is not None and "corrupt" in ai.status
