"""Retention: delete backups older than N days — safely.

    >>> plan = plan_prune(Path("backups/databases"), retain_days=30)
    >>> [b.path.name for b in plan.delete]              # what would go (the --dry-run output)
    ['main_db_20241201_020000.sql.gz']
    >>> [(b.path.name, why) for b, why in plan.protected]
    [('main_db_20241130_020000.sql.gz', 'newest verified main backup')]
    >>> apply_prune(plan)                                # deletes the files and their sidecars

Rules: only files of the naming scheme are considered; the newest verified backup of each
database is never deleted, nor the newest backup of each database (whatever its age), so pruning
can never leave a database without a backup. Temp files (``.<name>.<random>.partial``) of runs
that died are deleted whatever their age; a live writer's (it holds a lock) never.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pytest_prodcheck.backup.catalog import BackupInfo, list_backups
from pytest_prodcheck.backup.manifest import utc_now
from pytest_prodcheck.backup.naming import KINDS, sidecars
from pytest_prodcheck.core.errors import ConfigError, ToolError
from pytest_prodcheck.core.files import dead_partials, remove_dead_partials


@dataclass(frozen=True)
class PrunePlan:
    retain_days: int
    cutoff: datetime
    delete: tuple[BackupInfo, ...]
    keep: tuple[BackupInfo, ...]
    protected: tuple[tuple[BackupInfo, str], ...]
    partials: tuple[Path, ...] = ()  # temp files of dead runs (a live writer's are not here)


def check_retain_days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"retention of {value!r} days: use a whole number of days >= 1")
    return value


def plan_prune(directory: Path, retain_days: int, now: datetime | None = None) -> PrunePlan:
    """Decide what a prune would delete, without touching anything."""
    check_retain_days(retain_days)
    cutoff = (now or utc_now()) - timedelta(days=retain_days)
    delete: list[BackupInfo] = []
    keep: list[BackupInfo] = []
    protected: list[tuple[BackupInfo, str]] = []
    for kind in KINDS:
        backups = list_backups(directory, kind)
        if not backups:
            continue
        verified = [b for b in backups if b.verified]
        guard: dict[Path, str] = {backups[-1].path: f"newest {kind} backup"}
        if verified:
            guard[verified[-1].path] = f"newest verified {kind} backup"
        for b in backups:
            if b.created >= cutoff:
                keep.append(b)
            elif b.path in guard:
                protected.append((b, guard[b.path]))
            else:
                delete.append(b)
    partials = tuple(dead_partials(directory)) if directory.is_dir() else ()
    return PrunePlan(retain_days, cutoff, tuple(delete), tuple(keep), tuple(protected), partials)


def apply_prune(plan: PrunePlan) -> list[Path]:
    """Delete what ``plan`` says (each backup with its ``.sha256`` and manifest, and the dead
    runs' temp files, re-checked under their lock)."""
    deleted: list[Path] = []
    if plan.partials:
        deleted += [p for p, _size in remove_dead_partials(plan.partials[0].parent)]
    for b in plan.delete:
        try:
            b.path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ToolError(f"cannot delete {b.path}: {exc.strerror or exc}") from exc
        deleted.append(b.path)
        for side in sidecars(b.path):
            with contextlib.suppress(FileNotFoundError):
                side.unlink()
    return deleted
