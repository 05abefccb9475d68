"""core/files.py: atomic replacement with the mode set first, errors as one line, nothing left."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from pytest_prodcheck.core import files
from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.core.files import (
    atomic_file,
    exchange_paths,
    is_temp_name,
    replace_file,
    write_text_atomic,
)


def _names(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_atomic_file_is_0600_and_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    with atomic_file(target) as fh:
        fh.write(b"data")
        hidden = [n for n in _names(tmp_path) if is_temp_name(n)]
        assert not target.exists() and len(hidden) == 1 and hidden[0].startswith(".f.bin.")
    assert target.read_bytes() == b"data"
    assert (target.stat().st_mode & 0o777) == 0o600
    with pytest.raises(RuntimeError), atomic_file(tmp_path / "g.bin") as fh:
        fh.write(b"x")
        raise RuntimeError("boom")
    assert _names(tmp_path) == ["f.bin"]
    write_text_atomic(target, "new")
    assert target.read_text() == "new"


def test_a_failed_write_is_one_line_tool_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ToolError, match=r"cannot write .*file/sub\.txt: Not a directory") as info:
        write_text_atomic(tmp_path / "file" / "sub.txt", "x")
    assert "\n" not in str(info.value)


def test_replace_file_sets_the_mode_before_writing_and_replaces_the_inode(tmp_path: Path) -> None:
    path = tmp_path / "x.pem"
    replace_file(path, b"one", mode=0o600)
    inode = path.stat().st_ino
    replace_file(path, "two", mode=0o644)  # str: written as UTF-8
    assert path.read_bytes() == b"two" and path.stat().st_ino != inode
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    old_umask = os.umask(0o077)  # the mode wins over the umask (a report must stay readable)
    try:
        replace_file(path, "three", mode=0o644)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert _names(tmp_path) == ["x.pem"]


def test_replace_file_lets_the_oserror_through_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "dir.pem").mkdir()
    with pytest.raises(IsADirectoryError) as info:
        replace_file(tmp_path / "dir.pem", b"x")
    assert "dir.pem" in str(info.value.filename)
    assert _names(tmp_path) == ["dir.pem"]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_replace_file_owner(tmp_path: Path) -> None:  # pragma: no cover - root only
    replace_file(tmp_path / "key.pem", b"k", mode=0o600, owner=(65534, 65534))
    st = (tmp_path / "key.pem").stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o600)


def test_temp_names_are_hidden_and_never_a_backup_name() -> None:
    from pytest_prodcheck.backup.naming import parse_name

    name = ".main_db_20250128_120000.sql.gz.abc123.partial"
    assert is_temp_name(name) and parse_name(name) is None
    assert not is_temp_name("main_db_20250128_120000.sql.gz")


def _shm_or_skip() -> Path:
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK | os.X_OK)):
        pytest.skip("no writable /dev/shm (tmpfs)")
    return shm


@pytest.mark.parametrize("fs", ["tmp_path", "tmpfs"])
def test_exchange_paths_swaps_two_directories_in_one_step(fs: str, tmp_path: Path) -> None:
    base = tmp_path if fs == "tmp_path" else Path(tempfile.mkdtemp(dir=_shm_or_skip()))
    try:
        a, b = base / "a", base / "b"
        a.mkdir()
        b.mkdir()
        (a / "f").write_text("A")
        (b / "f").write_text("B")
        ino_a, ino_b = a.stat().st_ino, b.stat().st_ino
        assert exchange_paths(a, b) is True
        assert (a / "f").read_text() == "B" and (b / "f").read_text() == "A"
        assert (a.stat().st_ino, b.stat().st_ino) == (ino_b, ino_a)
        with pytest.raises(FileNotFoundError) as info:  # both must exist; nothing changed
            exchange_paths(a, base / "missing")
        assert info.value.filename == str(a) and info.value.filename2 == str(base / "missing")
        assert (a / "f").read_text() == "B"
    finally:
        if fs == "tmpfs":
            shutil.rmtree(base)


def test_exchange_paths_reports_unsupported_as_false(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "f").write_text("A")

    def refusing(errnum: int) -> object:
        def call(*_args: object) -> int:
            ctypes.set_errno(errnum)
            return -1

        return lambda: call

    for unsupported in (errno.EINVAL, errno.ENOSYS):  # filesystem / kernel without the flag
        monkeypatch.setattr(files, "_renameat2", refusing(unsupported))
        assert exchange_paths(tmp_path / "a", tmp_path / "b") is False
    monkeypatch.setattr(files, "_renameat2", refusing(errno.EACCES))
    with pytest.raises(PermissionError):
        exchange_paths(tmp_path / "a", tmp_path / "b")
    monkeypatch.setattr(files, "_renameat2", lambda: None)  # libc without renameat2
    assert exchange_paths(tmp_path / "a", tmp_path / "b") is False
    assert (tmp_path / "a" / "f").read_text() == "A"
