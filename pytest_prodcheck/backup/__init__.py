"""Backups that are proven restorable: dump, verify (integrity + restore drill), restore, S3, cron.

    >>> from pytest_prodcheck.backup import PgTarget, dump_database, verify_backup, restore_database
    >>> main = PgTarget.from_dsn("postgresql://app:pw@127.0.0.1:5432/ecommerce")
    >>> result = dump_database(main, "main", Path("backups/databases"))
    >>> report, drill = verify_backup(result.path, admin=PgTarget.from_dsn(admin_dsn))
    >>> install_job("ssl-renew", "0 3 * * *", "prodcheck ssl renew", log="/var/log/renew.log")

Modules: ``dsn`` (targets, child env, pg_dump lookup), ``dump`` (pg_dump → gzip + sha256 + manifest),
``scan`` (per-table counts/checksums), ``manifest``, ``verify`` (integrity + drill), ``restore``
(safety backup, new database, swap), ``retention``, ``s3``, ``schedule`` (crontab jobs),
``catalog`` (listing), ``checks`` (CheckResults for the suite), ``settings`` (config resolution).
"""

from __future__ import annotations

from pytest_prodcheck.backup.catalog import BackupInfo, latest_backup, list_backups
from pytest_prodcheck.backup.dsn import PgTarget
from pytest_prodcheck.backup.dump import DumpResult, dump_database
from pytest_prodcheck.backup.manifest import Manifest, read_manifest
from pytest_prodcheck.backup.restore import RestoreCancelled, RestoreResult, restore_database
from pytest_prodcheck.backup.retention import PrunePlan, apply_prune, plan_prune
from pytest_prodcheck.backup.s3 import S3Config, S3Store
from pytest_prodcheck.backup.schedule import (
    CronJob,
    backend_from,
    find_job,
    install_job,
    list_jobs,
    remove_job,
)
from pytest_prodcheck.backup.verify import (
    DrillMismatch,
    DrillResult,
    IntegrityReport,
    InvalidBackup,
    check_integrity,
    restore_drill,
    verify_backup,
)
from pytest_prodcheck.core.cron import validate_schedule

__all__ = [
    "BackupInfo",
    "CronJob",
    "DrillMismatch",
    "DrillResult",
    "DumpResult",
    "IntegrityReport",
    "InvalidBackup",
    "Manifest",
    "PgTarget",
    "PrunePlan",
    "RestoreCancelled",
    "RestoreResult",
    "S3Config",
    "S3Store",
    "apply_prune",
    "backend_from",
    "check_integrity",
    "dump_database",
    "find_job",
    "install_job",
    "latest_backup",
    "list_backups",
    "list_jobs",
    "plan_prune",
    "read_manifest",
    "remove_job",
    "restore_database",
    "restore_drill",
    "validate_schedule",
    "verify_backup",
]
