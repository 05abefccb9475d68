"""The history as a directory of JSON records (``reports/history/`` by default).

    >>> store = DirStore(Path("reports/history"))
    >>> store.append(record)                      # never overwrites: a taken name gets "-2"
    'reports/history/20261128T120115Z-3fa9c2d1e07b.json'
    >>> got = store.read(since=datetime(2026, 9, 1, tzinfo=UTC))
    >>> [r.run_id for r in got.records], got.problems
    (['20261128T120115Z-3fa9c2d1e07b'], ['reports/history/x.json: skipped: not valid JSON …'])

Each record is written to a hidden temp file (fsync'd, via :mod:`pytest_prodcheck.core.files`)
and then hard-linked to its final name, which fails instead of replacing an existing file: two
runs writing at once both keep their record. Unreadable, foreign, corrupt or newer-schema files
are skipped, each reported in one line, and never touched.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pytest_prodcheck.config.history import HistorySettings
from pytest_prodcheck.core.errors import ConfigError, ToolError
from pytest_prodcheck.core.files import DISK_FULL, atomic_file, disk_full_error, fsync_dir
from pytest_prodcheck.history.records import HistoryRecord, RecordProblem, parse_record

DISK_FULL_FIX = "free space or set [history] dir to a larger filesystem"

if TYPE_CHECKING:
    from pytest_prodcheck.backup.s3 import S3Config

__all__ = [
    "DirStore",
    "HistoryRead",
    "HistoryStore",
    "decode_record",
    "open_store",
    "record_name",
    "stamp_of",
]

MAX_RECORD_BYTES = 32 * 1024 * 1024  # a larger file is not one of ours


@dataclass(frozen=True)
class HistoryRead:
    """Records (oldest first) and one line per skipped record."""

    records: tuple[HistoryRecord, ...]
    problems: tuple[str, ...] = ()
    where: str = ""


class HistoryStore(Protocol):
    """Where records live: :class:`DirStore` or :class:`~pytest_prodcheck.history.s3store.S3HistoryStore`."""

    where: str

    def append(self, record: HistoryRecord) -> str: ...

    def read(self, since: datetime | None = None) -> HistoryRead: ...


def record_name(record: HistoryRecord, n: int = 1) -> str:
    """``<run id>.json`` (``<run id>-<n>.json`` when that name is taken)."""
    safe = "".join(c if c.isalnum() or c in "-_.T" else "_" for c in record.run_id)
    return f"{safe}.json" if n == 1 else f"{safe}-{n}.json"


def stamp_of(name: str) -> datetime | None:
    """The UTC time a record name starts with (``20261128T120115Z-…``), None if it does not."""
    try:
        return datetime.strptime(name[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def decode_record(raw: bytes, where: str) -> HistoryRecord:
    """Bytes of a stored record -> :class:`HistoryRecord` (RecordProblem when unusable)."""
    if len(raw) > MAX_RECORD_BYTES:
        raise RecordProblem(f"{len(raw)} bytes, larger than any history record (foreign file)")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RecordProblem("not UTF-8 text (corrupt or foreign file)") from None
    except ValueError as exc:
        raise RecordProblem(f"not valid JSON ({exc}); a truncated or corrupt record") from None
    return parse_record(data, where)


def _sorted(records: Iterable[HistoryRecord]) -> tuple[HistoryRecord, ...]:
    return tuple(sorted(records, key=lambda r: (r.finished_utc, r.run_id)))


def merge(reads: Sequence[HistoryRead], where: str) -> HistoryRead:
    """Several reads as one: records deduplicated by run id, problems kept."""
    seen: dict[str, HistoryRecord] = {}
    problems: list[str] = []
    for got in reads:
        problems.extend(got.problems)
        for r in got.records:
            seen.setdefault(r.run_id, r)
    return HistoryRead(_sorted(seen.values()), tuple(problems), where)


class DirStore:
    """Records as ``<dir>/<run id>.json``; ``read`` skips (and reports) what it cannot use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.where = str(directory)

    def _ensure(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the history directory {self.directory}: "
                f"{exc.strerror or exc}; set [history] dir to a writable directory"
            ) from None
        if not os.access(self.directory, os.W_OK | os.X_OK):
            raise ConfigError(
                f"history directory {self.directory} is not writable: fix its permissions "
                "or set [history] dir"
            )

    def append(self, record: HistoryRecord) -> str:
        """Store ``record`` under a new name; returns its path. Never replaces a file."""
        return str(self.append_bytes(record, record.to_json().encode("utf-8")))

    def append_bytes(self, record: HistoryRecord, data: bytes) -> Path:
        self._ensure()
        staged = self.directory / f".{record_name(record)}.{os.getpid()}.staged"
        try:
            # fsync'd, renamed into place only when complete
            with atomic_file(staged, disk_full_fix=DISK_FULL_FIX) as fh:
                fh.write(data)
            for n in range(1, 1000):
                final = self.directory / record_name(record, n)
                try:
                    os.link(staged, final)  # atomic, and fails if the name is taken
                except FileExistsError:
                    continue
                except OSError as exc:
                    if exc.errno in DISK_FULL:
                        raise disk_full_error(final, exc, DISK_FULL_FIX) from exc
                    if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP):
                        raise ToolError(f"cannot store {final}: {exc.strerror or exc}") from exc
                    # no hard links on this filesystem: exclusive create + copy
                    try:
                        fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    except FileExistsError:
                        continue
                    with os.fdopen(fd, "wb") as out:
                        out.write(data)
                        out.flush()
                        os.fsync(out.fileno())
                fsync_dir(self.directory)
                return final
        finally:
            with contextlib.suppress(OSError):
                staged.unlink()
        raise ToolError(f"no free record name for run {record.run_id} in {self.directory}")

    def names(self, since: datetime | None = None) -> list[Path]:
        """Record files (oldest name first); names stamped before ``since`` are left out."""
        try:
            paths = sorted(p for p in self.directory.glob("*.json") if not p.name.startswith("."))
        except OSError:
            return []
        if since is None:
            return paths
        return [p for p in paths if (stamp_of(p.name) or since) >= since]

    def read(self, since: datetime | None = None) -> HistoryRead:
        """Every usable record (oldest first), one problem line per skipped file."""
        if not self.directory.exists():
            return HistoryRead((), (), self.where)
        if not self.directory.is_dir():
            raise ConfigError(
                f"history path {self.directory} is not a directory; fix [history] dir"
            )
        records: list[HistoryRecord] = []
        problems: list[str] = []
        for path in self.names(since):
            try:
                raw = path.read_bytes()
                records.append(decode_record(raw, str(path)))
            except OSError as exc:
                problems.append(f"{path}: skipped: cannot be read ({exc.strerror or exc})")
            except RecordProblem as exc:
                problems.append(f"{path}: skipped: {exc}")
        if since is not None:
            records = [r for r in records if r.finished_utc >= since]
        return HistoryRead(_sorted(records), tuple(problems), self.where)


def open_store(
    hs: HistorySettings, s3: S3Config | None, report_dir: str | Path = "reports"
) -> HistoryStore:
    """The directory store, or the S3 store (spooling into ``<dir>/pending``) when ``s3``."""
    directory = hs.directory(report_dir)
    if not hs.s3:
        return DirStore(directory)
    if s3 is None or not s3.bucket:
        raise ConfigError(
            "[history] s3 = true but no S3 bucket is configured: set [s3] bucket or export "
            "AWS_BACKUP_BUCKET (or set [history] s3 = false)"
        )
    from pytest_prodcheck.history.s3store import S3HistoryStore

    return S3HistoryStore(s3, prefix=hs.s3_prefix, spool=directory / "pending")
