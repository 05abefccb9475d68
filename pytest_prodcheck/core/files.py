"""Crash-safe file writing: hidden temp name, mode set first, fsync, rename, fsync the directory.

    >>> with atomic_file(Path("backups/main_db_20250128_120000.sql.gz")) as fh:
    ...     fh.write(data)            # written to .main_db_….sql.gz.<random>.partial (mode 0600)
    >>> # renamed into place only if the block finished; removed on any error
    >>> write_text_atomic(Path("x.sha256"), "abc  x\\n")
    >>> replace_file(live / "privkey.pem", key_pem, mode=0o600, owner=(uid, gid))
    >>> replace_file(reports / "checklist.json", text, mode=0o644)   # str is written as UTF-8

A reader sees the old file or the new one, never half of one. The mode (and owner) are set on
the temp file before anything is written, so a key is never readable by others, not even
briefly. :func:`atomic_file` and :func:`write_text_atomic` turn a failed write into a one-line
:class:`ToolError`; a full disk (ENOSPC/EDQUOT) says how much space is left and where. The
partial file is removed, so no half-written backup is ever left behind. :func:`replace_file`
lets the ``OSError`` through, for callers that name their own fix (the report directory, the
certificate store).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from pytest_prodcheck.core.errors import ConfigError, ToolError

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
TEMP_SUFFIX = ".partial"


def is_temp_name(name: str) -> bool:
    """Is ``name`` one of the hidden names a file is written under until it is complete?

    >>> is_temp_name(".main_db_20261203_020000.sql.gz.k3j9x2.partial")
    True
    """
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


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
def _replacing(path: Path, mode: int, owner: tuple[int, int] | None) -> Iterator[IO[bytes]]:
    """The one mechanism: a fresh temp file next to ``path``; OSError propagates."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    tmp = Path(name)
    fh = os.fdopen(fd, "wb", buffering=0)
    done = False
    try:
        os.fchmod(fh.fileno(), mode)
        if owner is not None:
            os.fchown(fh.fileno(), *owner)
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(tmp, path)
        done = True
    finally:
        if not done:
            with contextlib.suppress(OSError):
                fh.close()
            with contextlib.suppress(OSError):
                tmp.unlink()
    fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_file(
    path: Path, *, mode: int = 0o600, owner: tuple[int, int] | None = None
) -> Iterator[IO[bytes]]:
    """Open a temp file (``mode``, ``owner=(uid, gid)``) next to ``path``; on success fsync +
    rename, on error delete it. Any OSError becomes a one-line ToolError (disk full: space left).
    """
    try:
        with _replacing(path, mode, owner) as fh:
            yield fh
    except OSError as exc:
        if exc.errno in DISK_FULL:
            raise disk_full_error(path, exc) from exc
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
