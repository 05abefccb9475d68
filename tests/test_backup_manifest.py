"""The manifest vouches only for the dump it describes: bound by the dump's SHA-256, checksummed
itself (``manifest_sha256``), and a verify without one says so instead of claiming a match."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.backup.dump import dump_database
from pytest_prodcheck.backup.manifest import manifest_checksum, read_manifest
from pytest_prodcheck.backup.naming import manifest_path, sha256_path
from pytest_prodcheck.backup.verify import InvalidBackup, check_integrity, verify_backup
from pytest_prodcheck.core.errors import ToolError
from tests._backup_env import BackupEnv, cli_env, run_cli


@pytest.fixture(scope="module")
def env() -> Iterator[BackupEnv]:
    e = BackupEnv.start()
    yield e
    e.stop()


@pytest.fixture(scope="module")
def good(env: BackupEnv) -> Path:
    return dump_database(env.main, "main", env.new_dir("good"), bindir=env.bindir).path


def _copy(src: Path, d: Path, *, manifest: bool) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    dst = d / src.name
    shutil.copy2(src, dst)
    shutil.copy2(sha256_path(src), sha256_path(dst))
    if manifest:
        shutil.copy2(manifest_path(src), manifest_path(dst))
    return dst


def _tamper_dump(path: Path) -> None:
    """Change one row's data in the dump and write a matching ``.sha256``: only a manifest
    (or nothing) can tell."""
    text = gzip.decompress(path.read_bytes()).decode()
    marker = "COPY public.products"
    start = text.index(marker)
    line_start = text.index("\n", start) + 1
    line_end = text.index("\n", line_start)
    row = text[line_start:line_end].split("\t")
    row[1] = row[1] + "-tampered"
    text = text[:line_start] + "\t".join(row) + text[line_end:]
    path.write_bytes(gzip.compress(text.encode()))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    sha256_path(path).write_text(f"{digest}  {path.name}\n")


def test_written_manifests_carry_their_own_checksum(good: Path) -> None:
    data = json.loads(manifest_path(good).read_text())
    assert data["manifest_sha256"] == manifest_checksum(data)
    assert data["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()  # bound to the dump
    assert read_manifest(good) is not None


def test_a_tampered_dump_without_a_manifest_is_not_claimed_to_match(
    env: BackupEnv, good: Path, tmp_path: Path
) -> None:
    path = _copy(good, tmp_path / "b", manifest=False)
    _tamper_dump(path)
    e = cli_env(env)
    proc = run_cli(["backups", "verify", str(path), "--dir", str(path.parent)], e, tmp_path)
    out = proc.stdout + proc.stderr
    assert "no manifest: content not compared" in out, out
    assert "match the manifest" not in out and "marked verified" not in out.replace(
        "not marked verified", ""
    )
    assert not manifest_path(path).exists()  # nothing invented
    quick = run_cli(["backups", "verify", str(path), "--integrity-only"], e, tmp_path)
    assert "no manifest: not compared" in quick.stdout and "match the manifest" not in quick.stdout
    report, drill = verify_backup(path, env.admin, bindir=env.bindir)
    assert report.manifest is None and not drill.compared_with_manifest
    assert drill.describe().startswith("no manifest: content not compared")


def test_a_tampered_dump_with_its_manifest_is_refused(
    env: BackupEnv, good: Path, tmp_path: Path
) -> None:
    path = _copy(good, tmp_path / "b", manifest=True)
    _tamper_dump(path)  # sidecar regenerated: only the manifest's sha256 catches it
    with pytest.raises(InvalidBackup, match="manifest checksum differs"):
        check_integrity(path)
    proc = run_cli(["backups", "verify", str(path)], cli_env(env), tmp_path)
    assert proc.returncode == 1 and "FAILED" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("edit", ["rows", "verified", "drop_checksum"])
def test_a_hand_edited_manifest_is_refused_with_one_line(
    env: BackupEnv, good: Path, tmp_path: Path, edit: str
) -> None:
    path = _copy(good, tmp_path / "b", manifest=True)
    side = manifest_path(path)
    data = json.loads(side.read_text())
    if edit == "rows":
        data["tables"][0]["rows"] += 1
    elif edit == "verified":
        data["verified"] = not data["verified"]
    else:
        del data["manifest_sha256"]
    side.write_text(json.dumps(data, indent=2, sort_keys=True))
    with pytest.raises(ToolError, match="manifest_sha256"):
        read_manifest(path)
    proc = run_cli(["backups", "verify", str(path)], cli_env(env), tmp_path)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(lines) == 1 and "edited by hand" in lines[0] and side.name in lines[0]
    listing = run_cli(["backups", "list", "--dir", str(path.parent)], cli_env(env), tmp_path)
    assert "verified" not in listing.stdout.split(path.name, 1)[1].splitlines()[0]
