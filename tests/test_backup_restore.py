"""Restore with a safety backup, swap only on success: the original survives every failure."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_prodcheck.backup.catalog import list_backups
from pytest_prodcheck.backup.dump import DumpResult, dump_database
from pytest_prodcheck.backup.pgload import create_database, drop_database
from pytest_prodcheck.backup.restore import RestoreCancelled, restore_database
from pytest_prodcheck.backup.verify import InvalidBackup
from pytest_prodcheck.core.errors import ToolError
from tests._backup_env import BackupEnv


@pytest.fixture(scope="module")
def env() -> Iterator[BackupEnv]:
    e = BackupEnv.start(orders=150000)  # big enough that a restore takes a moment
    yield e
    e.stop()


@pytest.fixture(scope="module")
def backups(env: BackupEnv) -> dict[str, DumpResult]:
    d = env.new_dir("backups")
    return {
        "main": dump_database(env.main, "main", d, bindir=env.bindir),
        "ai": dump_database(env.ai, "ai", d, bindir=env.bindir),
    }


def _leftovers(env: BackupEnv) -> list[str]:
    return [d for d in env.databases() if "_restore_" in d or d.startswith("prodcheck_drill")]


def _restore(env: BackupEnv, path: Path, safety: Path, **kw) -> object:
    return restore_database(
        path,
        target=env.main,
        kind="main",
        admin=env.admin,
        safety_dir=safety,
        bindir=env.bindir,
        **kw,
    )


def test_restore_replaces_data_and_keeps_a_safety_backup(env, backups, tmp_path):
    before = env.snapshot("main")
    with env.main.connect() as conn:
        conn.execute("DELETE FROM orders WHERE id % 2 = 0")
        conn.execute("INSERT INTO products (name) VALUES ('added after the backup')")
    changed = env.snapshot("main")
    assert changed != before
    lines: list[str] = []
    result = _restore(env, backups["main"].path, tmp_path / "safety", log=lines.append)
    assert env.snapshot("main") == before
    safety = list_backups(tmp_path / "safety", "main")
    assert [b.path for b in safety] == [result.safety_backup]  # type: ignore[attr-defined]
    assert safety[0].manifest is not None
    rows = {t.name: t.rows for t in safety[0].manifest.tables}
    assert rows == {name: count for name, (count, _) in changed.items()}
    assert _leftovers(env) == []
    assert any("safety backup" in line for line in lines)
    # the app role still owns and can use the restored tables
    with env.main.connect() as conn:
        conn.execute("INSERT INTO empty_table VALUES (1)")
        conn.execute("DELETE FROM empty_table")


def test_corrupt_file_is_refused_before_anything_changes(env, backups, tmp_path):
    before = env.snapshot("main")
    bad = tmp_path / backups["main"].path.name
    data = bytearray(backups["main"].path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    bad.write_bytes(bytes(data))
    for side in (".sha256", ".manifest.json"):
        Path(str(bad) + side).write_bytes(Path(str(backups["main"].path) + side).read_bytes())
    with pytest.raises(InvalidBackup):
        _restore(env, bad, tmp_path / "safety")
    assert env.snapshot("main") == before
    assert not (tmp_path / "safety").exists()


def test_dump_of_the_other_database_is_refused(env, backups, tmp_path):
    before = env.snapshot("main")
    with pytest.raises(InvalidBackup, match="dump of the ai database"):
        _restore(env, backups["ai"].path, tmp_path / "safety")
    assert env.snapshot("main") == before


def test_declined_confirmation_changes_nothing(env, backups, tmp_path):
    before = env.snapshot("main")
    with pytest.raises(RestoreCancelled, match="nothing was changed"):
        _restore(env, backups["main"].path, tmp_path / "safety", confirm=lambda q: False)
    assert env.snapshot("main") == before and not (tmp_path / "safety").exists()


def test_restore_killed_midway_leaves_the_original(env, backups, tmp_path):
    with env.main.connect() as conn:
        conn.execute("DELETE FROM orders WHERE id <= 100")
    before = env.snapshot("main")
    killed = threading.Event()

    def kill_when_copying(pid: int) -> None:
        def watch() -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                rows = env.server.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE "
                    "'ecommerce\\_restore\\_%' AND query LIKE 'COPY%'"
                )
                if rows[0][0]:
                    os.kill(pid, signal.SIGKILL)
                    killed.set()
                    return
                time.sleep(0.005)

        threading.Thread(target=watch, daemon=True).start()

    with pytest.raises(ToolError, match=r"killed by signal 9.*left unchanged; safety backup"):
        _restore(env, backups["main"].path, tmp_path / "safety", on_spawn=kill_when_copying)
    assert killed.is_set()
    assert env.snapshot("main") == before
    assert _leftovers(env) == []
    assert len(list_backups(tmp_path / "safety")) == 1  # the safety backup stays


def test_leftover_of_an_interrupted_restore_is_cleaned(env, backups, tmp_path):
    create_database(env.admin.with_db("postgres"), "ecommerce_restore_20250101_000000")
    _restore(env, backups["main"].path, tmp_path / "safety")
    assert _leftovers(env) == []


def test_cleanup_touches_only_leftovers_of_the_exact_shape(env, backups, tmp_path):
    """A real database that merely starts with ``<db>_restore_`` is never dropped."""
    admin = env.admin.with_db("postgres")
    create_database(admin, "ecommerce_restore_archive")
    create_database(admin, "ecommerce_restore_20250101_000000")
    try:
        _restore(env, backups["main"].path, tmp_path / "safety")
        names = env.databases()
        assert "ecommerce_restore_archive" in names
        assert "ecommerce_restore_20250101_000000" not in names
    finally:
        drop_database(admin, "ecommerce_restore_archive")


def test_a_second_concurrent_restore_is_refused(env, backups, tmp_path):
    """While one restore holds the lock, another changes nothing (and kills nothing)."""
    before = env.snapshot("main")
    with env.admin.with_db("postgres").connect() as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext('prodcheck-restore:ecommerce'))")
        with pytest.raises(ToolError, match="another restore of 'ecommerce' is running"):
            _restore(env, backups["main"].path, tmp_path / "safety")
    assert env.snapshot("main") == before
    assert not (tmp_path / "safety").exists()


def test_server_side_error_is_one_line_and_keeps_the_original(env, backups, tmp_path, monkeypatch):
    """A refusal by the server at the swap (here: the name for the old database is taken) is a
    one-line ToolError, not a psycopg traceback; the original stays and nothing is left over."""
    import pytest_prodcheck.backup.restore as restore_mod

    when = datetime(2025, 1, 1, 0, 0, 0, tzinfo=UTC)
    monkeypatch.setattr(restore_mod, "utc_now", lambda: when)
    admin = env.admin.with_db("postgres")
    create_database(admin, "ecommerce_pre_restore_20250101_000000")
    try:
        with env.main.connect() as conn:
            conn.execute("DELETE FROM orders WHERE id <= 10")
        before = env.snapshot("main")
        with pytest.raises(
            ToolError, match=r"already exists.*left unchanged; safety backup"
        ) as info:
            _restore(env, backups["main"].path, tmp_path / "safety")
        assert "\n" not in str(info.value)
        assert env.snapshot("main") == before
        assert "ecommerce_restore_20250101_000000" not in env.databases()
    finally:
        drop_database(admin, "ecommerce_pre_restore_20250101_000000")
