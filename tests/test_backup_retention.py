"""Retention: old backups go, the newest (verified) backup of each database never does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_prodcheck.backup.manifest import Manifest, write_manifest
from pytest_prodcheck.backup.naming import manifest_path, sha256_path
from pytest_prodcheck.backup.retention import apply_prune, plan_prune
from pytest_prodcheck.core.errors import ConfigError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _make(d: Path, name: str, verified: bool = False) -> Path:
    path = d / name
    path.write_bytes(b"x")
    sha256_path(path).write_text("0" * 64 + f"  {name}\n")
    write_manifest(
        path,
        Manifest(
            file=name,
            kind=name.split("_")[0],
            database="db",
            created_at="2025-01-01T00:00:00Z",
            server_version="15",
            pg_dump_version="15",
            duration_s=0,
            size_bytes=1,
            sha256="0" * 64,
            tables=(),
            verified=verified,
        ),
    )
    return path


def names(items) -> list[str]:
    return sorted(b.path.name for b in items)


def test_prunes_old_keeps_recent_and_foreign_files(tmp_path: Path):
    _make(tmp_path, "main_db_20250101_020000.sql.gz")  # 59 days: goes
    _make(tmp_path, "main_db_20250115_020000.sql.gz")  # 45 days: goes
    _make(tmp_path, "main_db_20250220_020000.sql.gz")  # 9 days: stays
    _make(tmp_path, "ai_db_20250228_020000.sql.gz")  # stays
    (tmp_path / "main_db_20240101_000000.sql.gz.bak").write_text("not ours")
    (tmp_path / "notes.txt").write_text("not ours")
    # old, but not of the scheme: a temp file, a safety backup, look-alikes, a directory
    (tmp_path / ".main_db_20240101_000000.sql.gz.partial").write_text("in progress")
    (tmp_path / "safety").mkdir()
    _make(tmp_path / "safety", "main_db_20240101_000000.sql.gz")
    (tmp_path / "main_db_20240101_000000.sql").write_text("not ours")
    (tmp_path / "staging_main_db_20240101_000000.sql.gz").write_text("not ours")
    (tmp_path / "main_db_20240101_000001.sql.gz").mkdir()
    foreign = [*sorted(p.name for p in tmp_path.iterdir() if "2024" in p.name), "safety"]
    plan = plan_prune(tmp_path, 30, NOW)
    assert names(plan.delete) == [
        "main_db_20250101_020000.sql.gz",
        "main_db_20250115_020000.sql.gz",
    ]
    assert plan.protected == ()
    before = sorted(p.name for p in tmp_path.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # planning touches nothing
    deleted = apply_prune(plan)
    assert sorted(p.name for p in deleted) == names(plan.delete)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert "main_db_20250101_020000.sql.gz" not in left
    assert "main_db_20250101_020000.sql.gz.sha256" not in left
    assert "main_db_20250101_020000.sql.gz.manifest.json" not in left
    assert "notes.txt" in left and "main_db_20240101_000000.sql.gz.bak" in left
    assert "main_db_20250220_020000.sql.gz" in left
    assert set(foreign) <= set(left)
    assert (tmp_path / "safety" / "main_db_20240101_000000.sql.gz").exists()


def test_never_deletes_newest_verified_backup(tmp_path: Path):
    _make(tmp_path, "main_db_20250101_020000.sql.gz", verified=True)  # newest verified: kept
    _make(tmp_path, "main_db_20250102_020000.sql.gz")  # old, unverified: goes
    _make(tmp_path, "main_db_20250103_020000.sql.gz")  # old but the newest main backup: kept
    plan = plan_prune(tmp_path, 30, NOW)
    assert names(plan.delete) == ["main_db_20250102_020000.sql.gz"]
    assert sorted((b.path.name, why) for b, why in plan.protected) == [
        ("main_db_20250101_020000.sql.gz", "newest verified main backup"),
        ("main_db_20250103_020000.sql.gz", "newest main backup"),
    ]
    apply_prune(plan)
    assert (tmp_path / "main_db_20250101_020000.sql.gz").exists()
    assert manifest_path(tmp_path / "main_db_20250101_020000.sql.gz").exists()


@pytest.mark.parametrize("days", [0, -5, "30", True])
def test_invalid_retention_is_config_error(tmp_path: Path, days: object):
    with pytest.raises(ConfigError, match="whole number of days"):
        plan_prune(tmp_path, days, NOW)  # type: ignore[arg-type]
