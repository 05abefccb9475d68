"""The issue's "Bad input and faults" list, one test each, through the CLI as a user meets it.

Every fault must give ONE clear line on stderr (``prodcheck: error: …``, no traceback), a
non-zero exit code, and lose no data: the database's content and every file already in the backup
directory (backups and their sidecars) are exactly as before. The restore killed mid-way is in
``test_cli_backup.py`` / ``test_backup_restore.py``.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.backup.dump import dump_database
from pytest_prodcheck.backup.naming import manifest_path, sha256_path
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from tests._backup_env import BackupEnv, cli_env, denying_s3, run_cli

BAD = "main_db_20250102_000000.sql.gz"  # the damaged file sits among the good backups


@pytest.fixture(scope="module")
def env() -> Iterator[BackupEnv]:
    e = BackupEnv.start()
    yield e
    e.stop()


@pytest.fixture(scope="module")
def good(env: BackupEnv) -> dict[str, Path]:
    d = env.new_dir("good")
    return {
        "main": dump_database(env.main, "main", d, bindir=env.bindir).path,
        "ai": dump_database(env.ai, "ai", d, bindir=env.bindir).path,
    }


def _copy_backup(src: Path, dst: Path) -> Path:
    """Copy a backup with its manifest; its ``.sha256`` names the new file."""
    shutil.copy2(src, dst)
    shutil.copy2(manifest_path(src), manifest_path(dst))
    sha256_path(dst).write_text(sha256_path(src).read_text().replace(src.name, dst.name))
    return dst


def _backup_dir(good: dict[str, Path], tmp_path: Path) -> Path:
    """A backup directory holding one good backup of each database."""
    d = tmp_path / "backups"
    d.mkdir()
    for path in good.values():
        _copy_backup(path, d / path.name)
    return d


def _files(d: Path) -> dict[str, str]:
    """Every file under ``d`` (relative name → SHA-256): 'no backup lost or altered'."""
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


def _one_clear_line(proc: subprocess.CompletedProcess[str], env: BackupEnv, code: int) -> str:
    """Exit ``code``, exactly one ``prodcheck: error:`` line on stderr, no secret, no traceback."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert len(lines) == 1 and lines[0].startswith("prodcheck: error: "), proc.stderr
    for pw in env.server.passwords():
        assert pw not in proc.stdout + proc.stderr
    return lines[0]


# -- damaged or wrong backup files ----------------------------------------------------------------


def _truncated(good: dict[str, Path], bad: Path) -> None:
    _copy_backup(good["main"], bad)
    bad.write_bytes(bad.read_bytes()[:-200])


def _flipped_byte(good: dict[str, Path], bad: Path) -> None:
    _copy_backup(good["main"], bad)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))


def _empty(good: dict[str, Path], bad: Path) -> None:
    _copy_backup(good["main"], bad)
    bad.write_bytes(b"")


def _not_gzip(good: dict[str, Path], bad: Path) -> None:
    _copy_backup(good["main"], bad)
    bad.write_bytes(gzip.decompress(bad.read_bytes()))  # the plain SQL, checksum re-made to match
    sha = hashlib.sha256(bad.read_bytes()).hexdigest()
    sha256_path(bad).write_text(f"{sha}  {bad.name}\n")


def _other_database(good: dict[str, Path], bad: Path) -> None:
    _copy_backup(good["ai"], bad)  # an ai dump under a main name: the header inside tells


FILE_FAULTS: dict[str, tuple[Callable[[dict[str, Path], Path], None], str]] = {
    "truncated": (_truncated, r"truncated|does not match"),
    "flipped-byte": (_flipped_byte, r"corrupt|does not match"),
    "empty": (_empty, r"is empty \(0 bytes\)"),
    "not-gzip": (_not_gzip, r"not a valid gzip file"),
    "other-database": (_other_database, r"dump of the ai database"),
}


@pytest.mark.parametrize("fault", sorted(FILE_FAULTS))
def test_restore_refuses_a_bad_file(fault: str, env: BackupEnv, good, tmp_path: Path):
    make, message = FILE_FAULTS[fault]
    d = _backup_dir(good, tmp_path)
    make(good, d / BAD)
    files, db = _files(d), env.snapshot("main")
    proc = run_cli(["restore", str(d / BAD), "--yes", "--dir", str(d)], cli_env(env), tmp_path)
    line = _one_clear_line(proc, env, 2)
    assert re.search(message, line), line
    assert env.snapshot("main") == db
    assert _files(d) == files  # no safety backup either: nothing was started


@pytest.mark.parametrize("fault", sorted(FILE_FAULTS))
def test_verify_fails_on_a_bad_file(fault: str, env: BackupEnv, good, tmp_path: Path):
    make, message = FILE_FAULTS[fault]
    d = _backup_dir(good, tmp_path)
    make(good, d / BAD)
    files = _files(d)
    for extra in (["--integrity-only"], []):  # the file check alone, and with the restore drill
        proc = run_cli(["backups", "verify", str(d / BAD), *extra], cli_env(env), tmp_path)
        line = _one_clear_line(proc, env, 1)
        assert re.search(message, line), line
    assert _files(d) == files
    assert not [x for x in env.databases() if x.startswith("prodcheck_drill")]


# -- unreachable or refusing services ----------------------------------------------------------------


def test_unreachable_database(env: BackupEnv, good, tmp_path: Path):
    d = _backup_dir(good, tmp_path)
    files = _files(d)
    dead = f"postgresql://app:hunter22@127.0.0.1:{free_port()}/ecommerce"
    e = cli_env(env, DATABASE_URL=dead, ADMIN_DATABASE_URL=dead)
    backup = run_cli(["backup", "--main", "--dir", str(d)], e, tmp_path)
    assert "cannot reach PostgreSQL" in _one_clear_line(backup, env, 3)
    restore = run_cli(
        ["restore", str(d / good["main"].name), "--yes", "--dir", str(d)], e, tmp_path
    )
    assert "cannot reach PostgreSQL" in _one_clear_line(restore, env, 3)
    assert "hunter22" not in backup.stderr + restore.stderr
    assert _files(d) == files


def test_unreachable_s3(env: BackupEnv, good, tmp_path: Path):
    d = _backup_dir(good, tmp_path)
    files = _files(d)
    e = cli_env(env, AWS_BACKUP_BUCKET="b", AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s3cr3t-k")
    url = f"http://127.0.0.1:{free_port()}"
    proc = run_cli(["backup", "--ai", "--s3", "--dir", str(d), "--endpoint-url", url], e, tmp_path)
    assert "cannot reach S3" in _one_clear_line(proc, env, 3)
    assert "s3cr3t-k" not in proc.stdout + proc.stderr
    after = _files(d)
    assert {k: v for k, v in after.items() if k in files} == files  # the old ones untouched
    assert len(after) == len(files) + 3  # and the new local backup is kept (with its sidecars)


def test_denied_s3(env: BackupEnv, good, tmp_path: Path):
    d = _backup_dir(good, tmp_path)
    files = _files(d)
    e = cli_env(
        env, AWS_BACKUP_BUCKET="b", AWS_ACCESS_KEY_ID="AKIAUNKNOWN", AWS_SECRET_ACCESS_KEY="s3cr3t"
    )
    with denying_s3() as url:
        proc = run_cli(
            ["backup", "--ai", "--s3", "--dir", str(d), "--endpoint-url", url], e, tmp_path
        )
    assert "S3 denied upload" in _one_clear_line(proc, env, 2)
    assert "s3cr3t" not in proc.stdout + proc.stderr
    after = _files(d)
    assert {k: v for k, v in after.items() if k in files} == files
    assert len(after) == len(files) + 3


def test_disk_full(env: BackupEnv, good, tmp_path: Path):
    """A 512 KB tmpfs holding an existing backup; the next dump (~2 MB) cannot fit."""
    env.server.execute("CREATE DATABASE faults_bulk OWNER app")
    with env.main.with_db("faults_bulk").connect() as conn:
        conn.execute(
            "CREATE TABLE noise AS SELECT md5(random()::text) || md5(random()::text) s "
            "FROM generate_series(1, 40000)"
        )
    mnt = make_tempdir("backup-faults-full-")
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", str(mnt)],
            capture_output=True,
        )
        if mounted.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)")
        try:
            _copy_backup(good["ai"], mnt / good["ai"].name)
            files = _files(mnt)
            e = cli_env(env, DATABASE_URL=env.main.with_db("faults_bulk").dsn)
            proc = run_cli(["backup", "--main", "--dir", str(mnt)], e, tmp_path)
            assert "disk full while writing" in _one_clear_line(proc, env, 3)
            assert _files(mnt) == files  # no partial file, the old backup intact
            ok = run_cli(
                ["backups", "verify", str(mnt / good["ai"].name), "--integrity-only"], e, mnt
            )
            assert ok.returncode == 0, ok.stderr
        finally:
            subprocess.run(["umount", str(mnt)], check=False)
    finally:
        remove_tempdir(mnt)
