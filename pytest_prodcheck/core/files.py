"""Crash-safe file writing: hidden temp name, mode set first, fsync, rename, fsync the directory.

    >>> with atomic_file(Path("backups/main_db_20250128_120000.sql.gz")) as fh:
    ...     fh.write(data)            # written to .main_db_….sql.gz.<random>.partial (mode 0600)
    >>> # renamed into place only if the block finished; removed on any error
    >>> write_text_atomic(Path("x.sha256"), "abc  x\\n")
    >>> replace_file(live / "privkey.pem", key_pem, mode=0o600, owner=(uid, gid))
    >>> replace_file(reports / "checklist.json", text, mode=0o644)   # str is written as UTF-8

A reader sees the old file or the new one, never half of one. The writer holds an exclusive
``flock`` on its temp file until it is renamed, so a temp file nobody holds is a dead run's:
:func:`remove_dead_partials` (the next backup, retention) deletes those and leaves a live
concurrent writer's alone. The mode (and owner) are set on
the temp file before anything is written, so a key is never readable by others, not even
briefly. :func:`atomic_file` and :func:`write_text_atomic` turn a failed write into a one-line
:class:`ToolError`; a full disk (ENOSPC/EDQUOT) says how much space is left and where. The
partial file is removed, so no half-written backup is ever left behind. :func:`replace_file`
lets the ``OSError`` through, for callers that name their own fix (the report directory, the
certificate store).

:func:`exchange_paths` swaps two directories in one atomic step (Linux ``renameat2`` with
``RENAME_EXCHANGE``), for replacing a whole set of files at once (the certificate store's live
lineage); it returns ``False`` where the kernel, libc or filesystem cannot do that.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from pytest_prodcheck.core.errors import ConfigError, ToolError

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
TEMP_SUFFIX = ".partial"
_AT_FDCWD = -100  # <fcntl.h>
_RENAME_EXCHANGE = 2  # <linux/fs.h>
#: errnos meaning "this kernel / filesystem has no RENAME_EXCHANGE" (not "this exchange failed")
_EXCHANGE_UNSUPPORTED = (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP)


def is_temp_name(name: str) -> bool:
    """Is ``name`` one of the hidden names a file is written under until it is complete?

    >>> is_temp_name(".main_db_20261203_020000.sql.gz.k3j9x2.partial")
    True
    """
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


#: a temp file younger than this is never swept: its writer may not have locked it yet
PARTIAL_MIN_AGE_S = 10.0


def _owner_gone(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a live writer holds it
    return True


def _temp_files(directory: Path, min_age_s: float) -> Iterator[Path]:
    now = time.time()
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return
    for entry in entries:
        if not is_temp_name(entry.name):
            continue
        with contextlib.suppress(OSError):
            st = entry.lstat()
            if entry.is_file() and not entry.is_symlink() and now - st.st_mtime >= min_age_s:
                yield entry


def dead_partials(directory: Path, *, min_age_s: float = PARTIAL_MIN_AGE_S) -> list[Path]:
    """Temp files in ``directory`` that no live writer holds (nothing is changed).

    >>> dead_partials(Path("backups/databases"))
    [PosixPath('backups/databases/.main_db_20261203_020000.sql.gz.k3j9x2.partial')]
    """
    out: list[Path] = []
    for path in _temp_files(directory, min_age_s):
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                if _owner_gone(fd):
                    out.append(path)
            finally:
                os.close(fd)  # releases our probe lock
    return out


def remove_dead_partials(
    directory: Path, *, min_age_s: float = PARTIAL_MIN_AGE_S
) -> list[tuple[Path, int]]:
    """Delete the temp files of dead writers in ``directory``; ``(path, size)`` of each.

    Each file is deleted while we hold its lock, and only if the name still is that file, so a
    writer that starts meanwhile never loses its file.
    """
    removed: list[tuple[Path, int]] = []
    for path in _temp_files(directory, min_age_s):
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                st = os.fstat(fd)
                if _owner_gone(fd) and os.lstat(path).st_ino == st.st_ino:
                    path.unlink()
                    removed.append((path, st.st_size))
            finally:
                os.close(fd)
    return removed


def ensure_dir(path: Path) -> Path:
    """Create the backup directory (0700) if needed; ConfigError when that is impossible."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"cannot create backup directory {path}: {exc.strerror or exc}: "
            "choose a writable --dir / [backup] dir"
        ) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(
            f"backup directory {path} is not writable: fix its permissions or use --dir"
        )
    return path


BACKUP_DIR_FIX = "free space or point --dir at a larger filesystem"


def disk_full_error(path: Path, exc: OSError, fix: str = BACKUP_DIR_FIX) -> ToolError:
    """The one-line error for a full disk at ``path``; ``fix``: what to do (names the setting)."""
    try:
        free = shutil.disk_usage(path.parent).free
        left = f"{free / 1e6:.1f} MB free"
    except OSError:
        left = "free space unknown"
    return ToolError(
        f"disk full while writing {path} ({left}): nothing was kept from this attempt; {fix}"
    )


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _replacing(path: Path, mode: int, owner: tuple[int, int] | None) -> Iterator[IO[bytes]]:
    """The one mechanism: a fresh temp file next to ``path``; OSError propagates."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    tmp = Path(name)
    fh = os.fdopen(fd, "wb", buffering=0)
    done = False
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # "a live writer owns this"
        os.fchmod(fh.fileno(), mode)
        if owner is not None:
            os.fchown(fh.fileno(), *owner)
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
        os.replace(tmp, path)  # still locked: a sweeper never sees it unowned under its temp name
        done = True
        fh.close()
    finally:
        if not done:
            with contextlib.suppress(OSError):
                fh.close()
            with contextlib.suppress(OSError):
                tmp.unlink()
    fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_file(
    path: Path,
    *,
    mode: int = 0o600,
    owner: tuple[int, int] | None = None,
    disk_full_fix: str = BACKUP_DIR_FIX,
) -> Iterator[IO[bytes]]:
    """Open a temp file (``mode``, ``owner=(uid, gid)``) next to ``path``; on success fsync +
    rename, on error delete it. Any OSError becomes a one-line ToolError (disk full: space left
    and ``disk_full_fix``).
    """
    try:
        with _replacing(path, mode, owner) as fh:
            yield fh
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise disk_full_error(path, exc, disk_full_fix) from exc
        raise ToolError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_text_atomic(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` atomically (mode 0600 unless told); ToolError on failure."""
    with atomic_file(path, mode=mode) as fh:
        fh.write(text.encode())


def replace_file(
    path: Path, data: bytes | str, *, mode: int = 0o600, owner: tuple[int, int] | None = None
) -> None:
    """Replace ``path`` by ``data`` (str as UTF-8) atomically, with ``mode`` and ``owner``.

    The ``OSError`` of a failed write propagates (``exc.filename`` names the file), nothing of
    the attempt is left.
    """
    payload = data.encode() if isinstance(data, str) else data
    with _replacing(path, mode, owner) as fh:
        fh.write(payload)


@functools.cache
def _renameat2() -> Callable[[int, bytes, int, bytes, int], int] | None:
    """libc's ``renameat2`` (glibc >= 2.28), or ``None`` where libc has none (musl, macOS)."""
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


def exchange_paths(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` (both must exist) in one atomic step; ``False`` if unsupported.

    ``renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)``: a reader (or a crash) sees either
    the old pair of names or the swapped one, never a moment where ``b`` is missing. ``False``
    (nothing changed) where libc has no ``renameat2`` or the kernel/filesystem refuses the flag
    (ENOSYS, EINVAL, EOPNOTSUPP); any other failure is an ``OSError`` naming ``a`` and ``b``.
    The caller fsyncs the parent directory.
    """
    func = _renameat2()
    if func is None:
        return False
    if func(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in _EXCHANGE_UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))
