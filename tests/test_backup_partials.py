"""Killed backups and restores leave nothing behind: no password on disk, and the half-written
``.<name>.<random>.partial`` of a dead run is removed (and reported) by the next backup and by
retention, while a live concurrent writer's temp file (it holds a flock) is never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.backup.dump import dump_database
from pytest_prodcheck.backup.retention import apply_prune, plan_prune
from pytest_prodcheck.core.files import (
    atomic_file,
    dead_partials,
    is_temp_name,
    remove_dead_partials,
)
from pytest_prodcheck.core.secrets import remove_legacy_pgpass_files
from tests._backup_env import PRODCHECK, BackupEnv, cli_env, run_cli

TEMP_DIRS = (Path("/tmp"), Path("/dev/shm"))


@pytest.fixture(scope="module")
def env() -> Iterator[BackupEnv]:
    e = BackupEnv.start(orders=150_000)  # big enough that a kill lands mid-dump
    yield e
    e.stop()


def _partials(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if is_temp_name(p.name)) if d.is_dir() else []


def _age(path: Path, seconds: float = 120) -> None:
    """Make ``path`` look written ``seconds`` ago (the sweeper skips files just created)."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def _files_holding(secret: bytes, since: float) -> list[Path]:
    """Regular files under the temp dirs changed since ``since`` whose bytes hold ``secret``."""
    hits: list[Path] = []
    for base in TEMP_DIRS:
        for root, _dirs, files in os.walk(base, onerror=lambda e: None):
            for name in files:
                path = Path(root, name)
                try:
                    st = path.lstat()
                    if not path.is_file() or st.st_mtime < since or st.st_size > 64 << 20:
                        continue
                    if secret in path.read_bytes():
                        hits.append(path)
                except OSError:
                    continue
    return hits


def _kill_when(
    proc: subprocess.Popen[bytes], ready: Callable[[], bool], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, "the command finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGKILL)  # the tool and its pg_dump/psql children
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_killed_backup_leaves_no_password_and_the_next_one_removes_its_partial(
    env: BackupEnv, tmp_path: Path
) -> None:
    d = tmp_path / "backups"
    e = cli_env(env)
    password = env.main.password.encode()
    assert len(password) >= 8
    started = time.time() - 1
    proc = subprocess.Popen(
        [*PRODCHECK, "backup", "--main", "--dir", str(d)],
        env=e,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        process_group=0,
    )
    _kill_when(proc, lambda: bool(_partials(d)) and _partials(d)[0].stat().st_size > 0)
    left = _partials(d)
    assert len(left) == 1 and left[0].name.startswith(".main_db_")  # the state …
    assert not list(Path("/tmp").glob("prodcheck-pgpass-*"))  # … but no password file …
    assert _files_holding(password, started) == []  # … nor any file holding the password

    _age(left[0])
    listing = run_cli(["backups", "list", "--dir", str(d)], e, tmp_path)
    assert f"{left[0].name}  partial of a dead run" in listing.stdout
    again = run_cli(["backup", "--main", "--dir", str(d)], e, tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"removed {left[0].name} (" in again.stdout and "left by a killed run" in again.stdout
    assert _partials(d) == []
    assert len(list(d.glob("main_db_*.sql.gz"))) == 1


def test_a_killed_restore_leaves_no_password_on_disk(env: BackupEnv, tmp_path: Path) -> None:
    d = tmp_path / "backups"
    backup = dump_database(env.main, "main", d, bindir=env.bindir).path
    password = env.main.password.encode()
    started = time.time() - 1
    proc = subprocess.Popen(
        [*PRODCHECK, "restore", str(backup), "--yes", "--dir", str(d)],
        env=cli_env(env),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        process_group=0,
    )
    _kill_when(proc, lambda: any("_restore_" in name for name in env.databases()))
    assert not list(Path("/tmp").glob("prodcheck-pgpass-*"))
    assert _files_holding(password, started) == []
    run_cli(["restore", str(backup), "--yes", "--dir", str(d)], cli_env(env), tmp_path)


def test_a_live_writers_partial_is_never_removed(env: BackupEnv, tmp_path: Path) -> None:
    d = tmp_path / "backups"
    d.mkdir()
    target = d / "main_db_20250101_000000.sql.gz"
    with atomic_file(target) as fh:  # a concurrent backup, still writing
        fh.write(b"half a dump")
        (mine,) = _partials(d)
        _age(mine)
        assert dead_partials(d) == [] and remove_dead_partials(d) == []
        other = run_cli(["backup", "--main", "--dir", str(d)], cli_env(env), tmp_path)
        assert other.returncode == 0, other.stderr
        assert "left by a killed run" not in other.stdout
        plan = plan_prune(d, 1)
        assert plan.partials == ()
        apply_prune(plan)
        assert mine.exists()  # neither the other backup nor retention touched it
        pruned = run_cli(
            ["backups", "prune", "--dir", str(d), "--retain", "1"], cli_env(env), tmp_path
        )
        assert pruned.returncode == 0 and mine.exists()
    assert target.read_bytes() == b"half a dump" and not mine.exists()  # renamed into place


def test_retention_removes_dead_partials_whatever_their_age(tmp_path: Path) -> None:
    d = tmp_path / "backups"
    d.mkdir()
    dead = d / ".main_db_20250101_000000.sql.gz.k3j9x2.partial"  # no writer holds it
    dead.write_bytes(b"x" * 1000)
    fresh = d / ".main_db_20250102_000000.sql.gz.a1b2c3.partial"
    fresh.write_bytes(b"y")  # just created: its writer may not have locked it yet
    _age(dead)
    dry = run_cli(["backups", "prune", "--dir", str(d), "--dry-run"], os.environ.copy(), tmp_path)
    assert f"would delete {dead.name} (temp file of a dead run)" in dry.stdout and dead.exists()
    plan = plan_prune(d, 40)
    assert plan.partials == (dead,)
    assert apply_prune(plan) == [dead]
    assert not dead.exists() and fresh.exists()


def test_legacy_pgpass_files_are_removed(tmp_path: Path) -> None:
    old = tmp_path / "prodcheck-pgpass-k2j3h4"
    old.write_text("127.0.0.1:5432:*:app:hunter2\n")
    old.chmod(0o600)
    keep = tmp_path / "someone-elses-pgpass"
    keep.write_text("x")
    assert remove_legacy_pgpass_files(tmp_path) == [old]
    assert not old.exists() and keep.exists()
