"""A full disk, for real: 1 MiB tmpfs mounts (root only) under the backup, report and history dirs.

Each write that cannot fit fails with one line naming the directory and the space left, leaves no
partial file, and keeps what was there before (older backups, reports, history records).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pytest_prodcheck.backup.dump import dump_database
from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.history import DirStore
from tests._backup_env import BackupEnv, cli_env, run_cli
from tests._history_env import SMOKE_ITEMS, run_record
from tests.test_release_plugin import SMOKE_SUITE

FREE = re.compile(r"\(\d+\.\d MB free\)")


@contextlib.contextmanager
def tiny_tmpfs(path: Path, size: str = "1m") -> Iterator[Path]:
    """Mount a ``size`` tmpfs on ``path`` (created); unmounted on exit. Skips when not root."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                           str(path)], capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root / CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(directory: Path, leave: int = 0) -> None:
    """Fill ``directory``'s filesystem, then give back ``leave`` bytes."""
    filler = directory / "filler"
    with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as fh:
        while True:
            fh.write(b"\0" * 4096)
    if leave:
        filler.truncate(max(0, filler.stat().st_size - leave))


def _files(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file() and p.name != "filler"
    }


# -- backups ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg() -> Iterator[BackupEnv]:
    env = BackupEnv.start(orders=100)
    env.server.execute("CREATE DATABASE full_bulk OWNER app")
    with env.main.with_db("full_bulk").connect() as conn:  # a dump of ~2.5 MB: cannot fit
        conn.execute("CREATE TABLE noise AS SELECT md5(random()::text) || md5(random()::text) s "
                     "FROM generate_series(1, 80000)")  # fmt: skip
    yield env
    env.stop()


def test_backup_into_a_full_directory(pg: BackupEnv) -> None:
    work = make_tempdir("disk-full-")
    try:
        with tiny_tmpfs(work / "backups") as d:
            older = dump_database(pg.ai, "ai", d, bindir=pg.bindir).path
            before = _files(d)
            e = cli_env(pg, DATABASE_URL=pg.main.with_db("full_bulk").dsn)
            proc = run_cli(["backup", "--main", "--dir", str(d)], e, work)
            lines = proc.stderr.strip().splitlines()
            assert proc.returncode == 3 and len(lines) == 1, proc.stdout + proc.stderr
            assert str(d) in lines[0] and "disk full" in lines[0] and FREE.search(lines[0])
            assert _files(d) == before  # no partial dump, the older backup untouched
            ok = run_cli(["backups", "verify", str(older), "--integrity-only"], e, work)
            assert ok.returncode == 0, ok.stderr
    finally:
        remove_tempdir(work)


# -- reports and history --------------------------------------------------------------------------


def test_report_into_a_full_directory(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_smoke=SMOKE_SUITE)
    with tiny_tmpfs(pytester.path / "reports") as d:
        (d / "checklist.json").write_text('{"older": true}')
        fill(d)
        before = _files(d)
        result = pytester.runpytest("-m", "smoke")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        [line] = [ln for ln in result.outlines if ln.startswith("prodcheck: ERROR")]
        assert "cannot write the report into reports:" in line and FREE.search(line), line
        assert _files(d) == before  # the older report intact, no partial file


def test_history_into_a_full_directory(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_smoke=SMOKE_SUITE)
    with tiny_tmpfs(pytester.path / "reports" / "history") as d:
        store = DirStore(d)
        store.append(run_record(datetime.now(UTC) - timedelta(days=1),
                                dict.fromkeys(SMOKE_ITEMS, "passed")))  # fmt: skip
        fill(d)
        before = _files(d)
        result = pytester.runpytest("-m", "smoke")
        [line] = [ln for ln in result.outlines if ln.startswith("prodcheck: ERROR")]
        assert "reports/history/" in line and "disk full" in line and FREE.search(line), line
        assert "[history] dir" in line and "--dir" not in line, line  # names the right setting
        assert _files(d) == before  # the older record intact, nothing staged left
        assert len(store.read().records) == 1


def test_history_store_disk_full_is_one_line(tmp_path: Path) -> None:
    with tiny_tmpfs(tmp_path / "h") as d:
        fill(d)
        record = run_record(datetime.now(UTC), dict.fromkeys(SMOKE_ITEMS, "passed"))
        with pytest.raises(ToolError) as exc:
            DirStore(d).append(record)
        msg = str(exc.value)
        assert "\n" not in msg and str(d) in msg and "disk full" in msg and FREE.search(msg)
        assert msg.endswith("free space or set [history] dir to a larger filesystem"), msg
        assert [p.name for p in d.iterdir()] == ["filler"]  # nothing staged left
