"""The table of the backup checks: id → callable → group → checklist items.

    >>> from pytest_prodcheck.backup.check_table import BACKUP_CHECKS, BackupSite
    >>> BACKUP_CHECKS.ids()[:2]
    ('backup.fresh.main', 'backup.fresh.ai')
    >>> site = BackupSite(config, backend_from(), S3Store(config.s3))
    >>> BACKUP_CHECKS.get("backup.retention").run(site).status
    'pass'

``suites/test_backups.py`` is one test per row (``test_check[backup.fresh.main]`` …), with the
row's markers and checklist items; the checks themselves are :mod:`~pytest_prodcheck.backup.checks`.
Groups name what a check reads: ``files`` (the backup directory), ``drill`` (restores the newest
backup into a scratch database, always dropped), ``s3`` (the off-site copies), ``crontab``.
Per-database rows exist for ``main`` and ``ai``; a database the target does not have raises
:class:`~pytest_prodcheck.stack.endpoints.MissingEndpoint` naming its key (the test skips).

What a ``local`` run does first (``prodcheck backup --all --s3`` into a temp dir, the cron job, an
old backup for retention to prune) is the suite's ``prodcheck_backups`` fixture, not a row.

Adding a check: write ``check_x`` in :mod:`~pytest_prodcheck.backup.checks`, add one row here,
and a test showing it fail on a target wrong in exactly that way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pytest_prodcheck.backup import checks
from pytest_prodcheck.backup.naming import Kind
from pytest_prodcheck.backup.s3 import S3Store
from pytest_prodcheck.backup.schedule import CrontabBackend
from pytest_prodcheck.backup.settings import BackupConfig
from pytest_prodcheck.core.checks import CheckSpec, CheckTable
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.stack.endpoints import MissingEndpoint

__all__ = ["BACKUP_CHECKS", "KIND_KEYS", "BackupCheck", "BackupSite"]

KIND_KEYS = {"main": "[database] dsn", "ai": "[database] ai_dsn"}


@dataclass(frozen=True)
class BackupSite:
    """Where the backups are: the backup settings, the crontab, the S3 store (None: none)."""

    config: BackupConfig
    crontab: CrontabBackend
    store: S3Store | None

    def _has(self, kind: Kind) -> bool:
        return (self.config.main if kind == "main" else self.config.ai) is not None

    def require(self, kind: Kind) -> None:
        """MissingEndpoint naming the key when the target has no ``kind`` database."""
        if not self._has(kind):
            raise MissingEndpoint(f"no {kind} database: set {KIND_KEYS[kind]} in prodcheck.toml")

    def require_store(self) -> S3Store:
        if self.store is None:
            raise MissingEndpoint("S3 is not configured: set [s3] bucket or AWS_BACKUP_BUCKET")
        return self.store


BackupCheck = CheckSpec[BackupSite]


def _fresh(kind: Kind) -> Callable[[BackupSite], CheckResult]:
    """The newest backup of ``kind`` is younger than [backup] max_age_hours (26 h)."""

    def run(site: BackupSite) -> CheckResult:
        site.require(kind)
        return checks.check_freshness(site.config.dir, kind, site.config.max_age_hours)

    return run


def _restorable(kind: Kind) -> Callable[[BackupSite], CheckResult]:
    """Integrity + a restore drill of the newest backup into a scratch database."""

    def run(site: BackupSite) -> CheckResult:
        site.require(kind)
        cfg = site.config
        return checks.check_restore_drill(cfg.dir, kind, cfg.admin_for(kind), cfg.pg_bindir)

    return run


def _s3(kind: Kind) -> Callable[[BackupSite], CheckResult]:
    """The newest backup has a byte-identical, server-side encrypted copy in S3."""

    def run(site: BackupSite) -> CheckResult:
        site.require(kind)
        store = site.require_store()
        return checks.check_s3_copy(site.config.dir, kind, store)

    return run


_SMOKE = ("backups", "smoke")
_FRESH = ("backups.test-script", "backups.monitoring")
_RESTORE = ("backups.restore-procedure", "testing.backup-restore", "predeploy.disaster-recovery")
_KINDS: tuple[Kind, ...] = ("main", "ai")


def _rows() -> list[BackupCheck]:
    return [
        *(CheckSpec(f"backup.fresh.{k}", _fresh(k), "files", _FRESH, _SMOKE,
                    f"the newest {k} backup is fresh") for k in _KINDS),
        *(CheckSpec(f"backup.restorable.{k}", _restorable(k), "drill", _RESTORE, _SMOKE,
                    f"the newest {k} backup restores") for k in _KINDS),
        *(CheckSpec(f"backup.s3.{k}", _s3(k), "s3", ("backups.s3-storage",), ("backups",),
                    f"the newest {k} backup has an identical, encrypted S3 copy")
          for k in _KINDS),
        CheckSpec("backup.schedule",
                  lambda s: checks.check_schedule(s.crontab, s.config.max_age_hours), "crontab",
                  ("backups.automated", "predeploy.backup-schedule"), ("backups",),
                  "a backup job runs at least every max_age_hours"),
        CheckSpec("backup.retention",
                  lambda s: checks.check_retention(s.config.dir, s.config.retain_days), "files",
                  ("backups.retention",), ("backups",),
                  "retention configured and no expired backup lingers"),
    ]  # fmt: skip


BACKUP_CHECKS: CheckTable[BackupSite] = CheckTable("backups", _rows())
