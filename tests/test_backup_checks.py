"""Each suite check passes on a good setup and fails on one that is wrong in exactly that way."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from pytest_prodcheck.backup import checks
from pytest_prodcheck.backup.dump import DumpResult, dump_database
from pytest_prodcheck.backup.manifest import read_manifest, utc_now, write_manifest
from pytest_prodcheck.backup.naming import manifest_path, sha256_path
from pytest_prodcheck.backup.s3 import S3Config, S3Store
from pytest_prodcheck.backup.schedule import FileCrontab, install_job
from pytest_prodcheck.stack.s3 import S3Server
from tests._backup_env import BackupEnv, start_s3, stop_s3


@pytest.fixture(scope="module")
def env() -> Iterator[BackupEnv]:
    e = BackupEnv.start()
    yield e
    e.stop()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = start_s3()
    yield server
    stop_s3(server)


@pytest.fixture(scope="module")
def fresh(env: BackupEnv) -> DumpResult:
    return dump_database(env.main, "main", env.new_dir("fresh"), bindir=env.bindir)


def _copy(src: Path, d: Path) -> Path:
    d.mkdir(exist_ok=True)
    for p in (src, sha256_path(src), manifest_path(src)):
        shutil.copy2(p, d / p.name)
    return d / src.name


def test_freshness(env: BackupEnv, fresh: DumpResult, tmp_path: Path):
    ok = checks.check_freshness(fresh.path.parent, "main", 26)
    assert ok.status == "pass" and "h old" in ok.observed
    old_dir = tmp_path / "old"
    dump_database(env.main, "main", old_dir, bindir=env.bindir, now=utc_now() - timedelta(hours=30))
    stale = checks.check_freshness(old_dir, "main", 26)
    assert stale.status == "fail" and "30.0 h old" in stale.observed
    none = checks.check_freshness(tmp_path / "empty", "main", 26)
    assert none.status == "fail" and "run `prodcheck backup`" in none.message
    assert checks.check_freshness(fresh.path.parent, "ai", 26).status == "fail"


def test_restore_drill(env: BackupEnv, fresh: DumpResult, tmp_path: Path):
    path = _copy(fresh.path, tmp_path / "good")
    ok = checks.check_restore_drill(path.parent, "main", env.admin, env.bindir)
    assert ok.status == "pass" and "rows match the manifest" in ok.observed
    bad = _copy(fresh.path, tmp_path / "bad")
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0x10
    bad.write_bytes(bytes(data))
    failed = checks.check_restore_drill(bad.parent, "main", env.admin, env.bindir)
    assert failed.status == "fail" and "not restorable" in failed.observed
    # intact file whose SQL does not restore: only the drill can tell
    broken = _copy(fresh.path, tmp_path / "broken")
    sql = gzip.decompress(broken.read_bytes()) + b"\nSELECT no_such_function();\n"
    broken.write_bytes(gzip.compress(sql))
    sha = hashlib.sha256(broken.read_bytes()).hexdigest()
    sha256_path(broken).write_text(f"{sha}  {broken.name}\n")
    m = read_manifest(broken)
    assert m is not None
    write_manifest(broken, replace(m, sha256=sha, size_bytes=broken.stat().st_size))
    drill = checks.check_restore_drill(broken.parent, "main", env.admin, env.bindir)
    assert drill.status == "fail" and "no_such_function" in drill.message


def test_s3_copy(s3: S3Server, fresh: DumpResult, tmp_path: Path):
    ep = s3.endpoint()
    store = S3Store(
        S3Config(
            bucket=ep.bucket,
            endpoint_url=ep.endpoint_url,
            prefix="checks/",
            access_key_id="testing",
            secret_access_key="testing",
        )
    )
    missing = checks.check_s3_copy(fresh.path.parent, "main", store)
    assert missing.status == "fail" and "not found" in missing.observed
    store.upload(fresh.path)
    ok = checks.check_s3_copy(fresh.path.parent, "main", store)
    assert ok.status == "pass" and "server-side encrypted" in ok.observed
    s3.client().put_object(
        Bucket=ep.bucket, Key=store.key(fresh.path), Body=os.urandom(fresh.path.stat().st_size)
    )
    differs = checks.check_s3_copy(fresh.path.parent, "main", store)
    assert differs.status == "fail"
    s3.client().put_object(
        Bucket=ep.bucket, Key=store.key(fresh.path), Body=fresh.path.read_bytes()
    )  # identical but not encrypted
    plain = checks.check_s3_copy(fresh.path.parent, "main", store)
    assert plain.status == "fail" and "NOT server-side encrypted" in plain.observed


def test_schedule(tmp_path: Path):
    tab = FileCrontab(tmp_path / "crontab")
    absent = checks.check_schedule(tab, 26)
    assert absent.status == "fail" and "prodcheck cron install" in absent.message
    install_job("backup", "0 2 * * 0", "prodcheck backup --all", backend=tab)  # weekly
    weekly = checks.check_schedule(tab, 26)
    assert weekly.status == "fail" and "168 h" in weekly.observed
    install_job("backup", "0 2 * * *", "prodcheck backup --all", backend=tab)
    assert checks.check_schedule(tab, 26).status == "pass"


def test_retention(env: BackupEnv, fresh: DumpResult, tmp_path: Path):
    d = tmp_path / "ret"
    _copy(fresh.path, d)
    assert checks.check_retention(d, 30).status == "pass"
    dump_database(env.ai, "ai", d, bindir=env.bindir, now=utc_now() - timedelta(days=45))
    dump_database(env.ai, "ai", d, bindir=env.bindir)
    lingering = checks.check_retention(d, 30)
    assert lingering.status == "fail" and "expired backup(s) still present" in lingering.observed
    assert checks.check_retention(d, 0).status == "fail"
