"""Integrity checks and the restore drill, shown to fail on each kind of damaged backup."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_prodcheck.backup.dump import DumpResult, dump_database
from pytest_prodcheck.backup.manifest import read_manifest, write_manifest
from pytest_prodcheck.backup.naming import manifest_path, sha256_path
from pytest_prodcheck.backup.verify import (
    DrillMismatch,
    InvalidBackup,
    check_integrity,
    restore_drill,
    verify_backup,
)
from tests._backup_env import BackupEnv


@pytest.fixture(scope="module")
def env() -> Iterator[BackupEnv]:
    e = BackupEnv.start()
    yield e
    e.stop()


@pytest.fixture(scope="module")
def good(env: BackupEnv) -> DumpResult:
    return dump_database(env.main, "main", env.new_dir("good"), bindir=env.bindir)


@pytest.fixture(scope="module")
def good_ai(env: BackupEnv) -> DumpResult:
    return dump_database(env.ai, "ai", env.new_dir("good-ai"), bindir=env.bindir)


def _copy(src: Path, dst_dir: Path, name: str | None = None) -> Path:
    dst = dst_dir / (name or src.name)
    shutil.copy2(src, dst)
    sha_text = sha256_path(src).read_text().split()[0]
    sha256_path(dst).write_text(f"{sha_text}  {dst.name}\n")
    shutil.copy2(manifest_path(src), manifest_path(dst))
    return dst


def _reseal(path: Path) -> None:
    """Recompute the sidecar checksum and manifest sha/size after editing the file."""
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    sha256_path(path).write_text(f"{sha}  {path.name}\n")
    m = read_manifest(path)
    if m is not None:
        write_manifest(path, replace(m, sha256=sha, size_bytes=path.stat().st_size))


def test_good_backup_passes_integrity_and_drill(env: BackupEnv, good: DumpResult, tmp_path: Path):
    path = _copy(good.path, tmp_path)
    report = check_integrity(path, expect_kind="main")
    assert report.database == "ecommerce" and report.total_rows == good.manifest.total_rows
    _, drill = verify_backup(path, env.admin, bindir=env.bindir)
    assert drill.ok and drill.rows == good.manifest.total_rows and drill.tables == 4
    m = read_manifest(path)
    assert m is not None and m.verified and m.drill_s is not None
    assert not any(d.startswith("prodcheck_drill_") for d in env.databases())


def test_truncated(good: DumpResult, tmp_path: Path):
    path = _copy(good.path, tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidBackup, match="is truncated"):
        check_integrity(path)
    _reseal(path)  # even with a matching checksum (sha256sum run on the truncated file)
    with pytest.raises(InvalidBackup, match="is truncated"):
        check_integrity(path)


def test_flipped_byte(good: DumpResult, tmp_path: Path):
    path = _copy(good.path, tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidBackup, match=r"corrupt|does not match"):
        check_integrity(path)


def test_flipped_byte_in_gzip_trailer(good: DumpResult, tmp_path: Path):
    path = _copy(good.path, tmp_path)
    data = bytearray(path.read_bytes())
    data[-6] ^= 0x80  # inside the CRC32: the data decompresses, the check fails
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidBackup, match="corrupt"):
        check_integrity(path)


def test_empty(good: DumpResult, tmp_path: Path):
    path = _copy(good.path, tmp_path)
    path.write_bytes(b"")
    with pytest.raises(InvalidBackup, match=r"is empty \(0 bytes\)"):
        check_integrity(path)


def test_not_gzip(good: DumpResult, tmp_path: Path):
    path = _copy(good.path, tmp_path)
    path.write_bytes(b"-- plain SQL, not compressed\nSELECT 1;\n")
    _reseal(path)
    with pytest.raises(InvalidBackup, match="not a valid gzip file"):
        check_integrity(path)


def test_missing_checksum_file(good: DumpResult, tmp_path: Path):
    path = _copy(good.path, tmp_path)
    sha256_path(path).unlink()
    with pytest.raises(InvalidBackup, match="has no checksum file"):
        check_integrity(path)


def test_missing_file(tmp_path: Path):
    with pytest.raises(InvalidBackup, match="does not exist"):
        check_integrity(tmp_path / "main_db_20250101_000000.sql.gz")


def test_dump_of_the_other_database(good_ai: DumpResult, tmp_path: Path):
    path = _copy(good_ai.path, tmp_path)
    with pytest.raises(InvalidBackup, match=r"dump of the ai database \('ai'\), not of the main"):
        check_integrity(path, expect_kind="main")
    # renamed to look like a main backup: the header inside still says ai
    renamed = _copy(good_ai.path, tmp_path, name="main_db_20250101_000000.sql.gz")
    with pytest.raises(InvalidBackup, match="dump of the ai database"):
        check_integrity(renamed, expect_kind="main")


def test_content_not_matching_manifest(good: DumpResult, tmp_path: Path):
    path = _copy(good.path, tmp_path)
    sql = gzip.decompress(path.read_bytes()).replace(b"product 42\t", b"product 4X\t", 1)
    path.write_bytes(gzip.compress(sql))
    _reseal(path)
    with pytest.raises(InvalidBackup, match="content differs from its manifest"):
        check_integrity(path)


def _edit_sql(path: Path, marker: bytes, insert: bytes) -> None:
    sql = gzip.decompress(path.read_bytes())
    idx = sql.index(marker)
    path.write_bytes(gzip.compress(sql[:idx] + insert + sql[idx:]))
    _reseal(path)


def test_drill_fails_when_the_dump_does_not_restore(
    env: BackupEnv, good: DumpResult, tmp_path: Path
):
    path = _copy(good.path, tmp_path)
    _edit_sql(path, b"\n-- PostgreSQL database dump complete", b"\nSELECT 1/0;\n")
    report = check_integrity(path)  # intact as a file ...
    with pytest.raises(DrillMismatch, match="division by zero"):  # ... but it does not restore
        verify_backup(path, env.admin, bindir=env.bindir)
    m = read_manifest(path)
    assert m is not None and not m.verified
    assert report.total_rows == good.manifest.total_rows
    assert not any(d.startswith("prodcheck_drill_") for d in env.databases())


def test_drill_fails_when_restored_data_differs(env: BackupEnv, good: DumpResult, tmp_path: Path):
    path = _copy(good.path, tmp_path)
    _edit_sql(
        path,
        b"\n-- PostgreSQL database dump complete",
        b"\nDELETE FROM public.orders WHERE id <= 10;\n",
    )
    with pytest.raises(DrillMismatch, match=r"public\.orders: \d+ rows, expected"):
        verify_backup(path, env.admin, bindir=env.bindir)
    m = read_manifest(path)
    assert m is not None and not m.verified
    drill = restore_drill(check_integrity(path), env.admin, bindir=env.bindir)
    assert not drill.ok and len(drill.mismatches) == 1
