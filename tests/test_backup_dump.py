"""dump_database against a real PostgreSQL: files, sidecars, manifest, faults."""

from __future__ import annotations

import gzip
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pytest_prodcheck.backup import dump as dump_mod
from pytest_prodcheck.backup.dsn import PgTarget
from pytest_prodcheck.backup.dump import dump_database, parse_header
from pytest_prodcheck.backup.manifest import read_manifest
from pytest_prodcheck.backup.naming import manifest_path, sha256_path
from pytest_prodcheck.backup.verify import check_integrity
from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable, ToolError
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from tests._backup_env import BackupEnv


@pytest.fixture(scope="module")
def env() -> Iterator[BackupEnv]:
    e = BackupEnv.start()
    yield e
    e.stop()


def test_backup_files_and_manifest(env: BackupEnv, tmp_path: Path):
    result = dump_database(env.main, "main", tmp_path, bindir=env.bindir)
    path = result.path
    assert path.parent == tmp_path and path.name.startswith("main_db_")
    assert (path.stat().st_mode & 0o777) == 0o600
    for side in (sha256_path(path), manifest_path(path)):
        assert (side.stat().st_mode & 0o777) == 0o600
    check = subprocess.run(
        ["sha256sum", "-c", sha256_path(path).name], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    m = read_manifest(path)
    assert m == result.manifest and m is not None
    assert m.database == "ecommerce" and m.kind == "main" and not m.verified
    assert m.size_bytes == path.stat().st_size
    assert m.server_version.startswith("15.")
    expected = {name: rows for name, (rows, _) in env.snapshot("main").items()}
    assert {t.name: t.rows for t in m.tables} == expected
    with gzip.open(path, "rb") as fh:
        first = fh.readline()
    assert parse_header(first) == ("main", "ecommerce")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [path.name, sha256_path(path).name, manifest_path(path).name]
    )


def test_same_second_gets_a_new_name(env: BackupEnv, tmp_path: Path):
    when = datetime(2025, 1, 28, 12, 0, tzinfo=UTC)
    a = dump_database(env.ai, "ai", tmp_path, bindir=env.bindir, now=when)
    b = dump_database(env.ai, "ai", tmp_path, bindir=env.bindir, now=when)
    assert a.path.name == "ai_db_20250128_120000.sql.gz"
    assert b.path.name == "ai_db_20250128_120001.sql.gz"


def test_password_never_in_argv_only_in_the_child_env(env: BackupEnv, tmp_path: Path, monkeypatch):
    seen: list[tuple[list[str], dict[str, str]]] = []
    real = subprocess.Popen

    def spy(argv: Any, *a: Any, **kw: Any) -> Any:
        seen.append((list(argv), dict(kw.get("env") or {})))
        return real(argv, *a, **kw)

    monkeypatch.setattr(dump_mod.subprocess, "Popen", spy)
    monkeypatch.setattr("pytest_prodcheck.backup.proc.subprocess.Popen", spy)
    dump_database(env.main, "main", tmp_path, bindir=env.bindir)
    assert seen
    password = env.main.password
    for argv, child_env in seen:
        assert not any(password in arg for arg in argv)
        assert child_env["PGPASSWORD"] == password  # the child's environment only
        assert "PGPASSFILE" not in child_env


def test_unreachable_database_leaves_nothing(tmp_path: Path):
    t = PgTarget.from_dsn(f"postgresql://app:pw@127.0.0.1:{free_port()}/ecommerce")
    with pytest.raises(TargetUnreachable, match="cannot reach PostgreSQL"):
        dump_database(t, "main", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_pg_dump_failure_is_tool_error_and_leaves_nothing(env: BackupEnv, tmp_path: Path):
    env.server.execute("CREATE DATABASE locked")
    env.server.execute("CREATE TABLE secret (x int)", db="locked")  # owned by postgres
    (tmp_path / "main_db_20240101_000000.sql.gz").write_bytes(b"older backup")
    with pytest.raises(ToolError, match=r"pg_dump of .* failed .*permission denied") as info:
        dump_database(env.main.with_db("locked"), "main", tmp_path, bindir=env.bindir)
    assert env.main.password not in str(info.value)
    assert [p.name for p in tmp_path.iterdir()] == ["main_db_20240101_000000.sql.gz"]


def test_nonexistent_database_is_config_error(env: BackupEnv, tmp_path: Path):
    with pytest.raises(ConfigError, match="database 'nope' does not exist"):
        dump_database(env.main.with_db("nope"), "main", tmp_path, bindir=env.bindir)
    assert list(tmp_path.iterdir()) == []


def _mount_tmpfs(path: Path, size: str) -> bool:
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
    )
    return res.returncode == 0


def test_disk_full_is_clear_and_keeps_existing_backups(env: BackupEnv):
    env.server.execute("CREATE DATABASE bulk OWNER app")
    bulk = env.main.with_db("bulk")
    with bulk.connect() as conn:  # ~2 MB of incompressible text: cannot fit into 512 KB
        conn.execute(
            "CREATE TABLE noise AS SELECT md5(random()::text) || md5(random()::text) s "
            "FROM generate_series(1, 40000)"
        )
    mnt = make_tempdir("backup-full-")
    try:
        if not _mount_tmpfs(mnt, "512k"):
            pytest.skip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)")
        try:
            small = dump_database(env.ai, "ai", mnt, bindir=env.bindir)
            before = sorted(p.name for p in mnt.iterdir())
            with pytest.raises(ToolError, match="disk full while writing"):
                dump_database(bulk, "main", mnt, bindir=env.bindir)
            assert sorted(p.name for p in mnt.iterdir()) == before
            assert check_integrity(small.path).database == "ai"
        finally:
            subprocess.run(["umount", str(mnt)], check=False)
    finally:
        remove_tempdir(mnt)
