"""Crash-safe file writing: temp name, 0600, fsync, rename, fsync the directory.

    >>> with atomic_file(Path("backups/main_db_20250128_120000.sql.gz")) as fh:
    ...     fh.write(data)                 # written to .main_db_….sql.gz.partial (mode 0600)
    >>> # renamed into place only if the block finished; removed on any error
    >>> write_text_atomic(Path("x.sha256"), "abc  x\\n")

A full disk (ENOSPC/EDQUOT) becomes a :class:`ToolError` saying how much space is left and
where; the partial file is removed so no half-written backup is ever left behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from pytest_prodcheck.core.errors import ConfigError, ToolError

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def temp_path(path: Path) -> Path:
    """The hidden name a file is written under until it is complete.

    >>> temp_path(Path("b/main_db_20261203_020000.sql.gz"))
    PosixPath('b/.main_db_20261203_020000.sql.gz.partial')
    """
    return path.with_name(f".{path.name}.partial")


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


def disk_full_error(path: Path, exc: OSError) -> ToolError:
    """The one-line error for a full disk at ``path``."""
    try:
        free = shutil.disk_usage(path.parent).free
        left = f"{free / 1e6:.1f} MB free"
    except OSError:
        left = "free space unknown"
    return ToolError(
        f"disk full while writing {path} ({left}): nothing was kept from this attempt; "
        "free space or point --dir at a larger filesystem"
    )


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """Open a 0600 temp file next to ``path``; on success fsync + rename, on error delete it."""
    tmp = temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise disk_full_error(path, exc) from exc
        raise ToolError(f"cannot create {tmp}: {exc.strerror or exc}") from exc
    fh = os.fdopen(fd, "wb", buffering=0)
    done = False
    try:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(tmp, path)
        fsync_dir(path.parent)
        done = True
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise disk_full_error(path, exc) from exc
        raise ToolError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        if not done:
            with contextlib.suppress(OSError):
                fh.close()
            with contextlib.suppress(OSError):
                tmp.unlink()


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (mode 0600)."""
    with atomic_file(path) as fh:
        fh.write(text.encode())
