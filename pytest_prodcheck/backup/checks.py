"""The backup checks of the suite, as plain functions returning :class:`CheckResult`.

>>> check_freshness(Path("backups/databases"), "main", max_age_hours=26).status
'pass'
>>> check_restore_drill(Path("backups/databases"), "main", admin).observed
'main_db_20250128_120000.sql.gz restored: 5 tables, 6000 rows match the manifest (2.1 s)'
>>> check_s3_copy(Path("backups/databases"), "main", S3Store(cfg)).ok
True
>>> check_schedule(backend_from(), max_age_hours=26).expected
"a 'backup' job that runs at least every 26 h"
>>> check_retention(Path("backups/databases"), retain_days=30).ok
True
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

from pytest_prodcheck.backup.catalog import latest_backup
from pytest_prodcheck.backup.dsn import PgTarget
from pytest_prodcheck.backup.naming import Kind
from pytest_prodcheck.backup.retention import plan_prune
from pytest_prodcheck.backup.s3 import S3Store
from pytest_prodcheck.backup.schedule import CrontabBackend, find_job
from pytest_prodcheck.backup.verify import verify_backup
from pytest_prodcheck.core.cron import max_gap_hours
from pytest_prodcheck.core.errors import ConfigError, ProdcheckError
from pytest_prodcheck.core.result import CheckResult


def check_freshness(
    directory: Path, kind: Kind, max_age_hours: float, now: datetime | None = None
) -> CheckResult:
    """The newest backup of ``kind`` is younger than ``max_age_hours`` (default 26 h)."""
    cid, expected = f"backup.fresh.{kind}", f"a {kind}_db_* backup younger than {max_age_hours} h"
    latest = latest_backup(directory, kind)
    if latest is None:
        return CheckResult.failed(
            cid,
            f"no {kind} backup in {directory}",
            expected,
            f"no {kind}_db_*.sql.gz in {directory}: run `prodcheck backup`",
        )
    age = latest.age_hours(now)
    return CheckResult.judge(
        cid,
        0 <= age < max_age_hours,
        f"{latest.path.name} is {age:.1f} h old",
        expected,
        ""
        if age < max_age_hours
        else f"the newest {kind} backup is {age:.1f} h old: is the schedule running?",
    )


def check_restore_drill(
    directory: Path, kind: Kind, admin: PgTarget, bindir: str | Path | None = None
) -> CheckResult:
    """The newest backup of ``kind`` is intact and restores into a scratch database."""
    cid, expected = (
        f"backup.restorable.{kind}",
        "integrity OK and a restore drill matching the manifest",
    )
    latest = latest_backup(directory, kind)
    if latest is None:
        return CheckResult.failed(cid, f"no {kind} backup in {directory}", expected)
    try:
        _, drill = verify_backup(latest.path, admin, bindir=bindir, expect_kind=kind)
    except ProdcheckError as exc:
        return CheckResult.failed(cid, f"{latest.path.name}: not restorable", expected, str(exc))
    return CheckResult.passed(
        cid,
        f"{latest.path.name} restored: {drill.tables} tables, {drill.rows} rows match the "
        f"manifest ({drill.total_s:.1f} s)",
        expected,
    )


def check_s3_copy(directory: Path, kind: Kind, store: S3Store, *, deep: bool = True) -> CheckResult:
    """The newest local backup of ``kind`` has an identical, encrypted copy in S3."""
    cid, expected = f"backup.s3.{kind}", f"{store.config.where}<file> present and identical"
    latest = latest_backup(directory, kind)
    if latest is None:
        return CheckResult.failed(cid, f"no {kind} backup in {directory}", expected)
    try:
        remote = store.verify(latest.path, deep=deep)
        head = store.head(latest.path) if remote.present else None
    except ProdcheckError as exc:
        return CheckResult.errored(cid, str(exc), expected)
    if not remote.identical:
        return CheckResult.failed(
            cid, remote.detail, expected, f"S3 copy of {latest.path.name}: {remote.detail}"
        )
    enc = "server-side encrypted" if head and head.encrypted else "NOT server-side encrypted"
    return CheckResult.judge(
        cid,
        bool(head and head.encrypted),
        f"{remote.key}: {remote.detail}, {enc}",
        expected + ", encrypted",
    )


def check_schedule(
    backend: CrontabBackend, max_age_hours: float, job: str = "backup"
) -> CheckResult:
    """A backup job is installed and runs often enough for the freshness limit to hold."""
    cid, expected = "backup.schedule", f"a {job!r} job that runs at least every {max_age_hours:g} h"
    try:
        found = find_job(job, backend)
    except ProdcheckError as exc:
        return CheckResult.errored(cid, str(exc), expected)
    if found is None:
        return CheckResult.failed(
            cid,
            f"no {job!r} job in {backend.description}",
            expected,
            "install it with `prodcheck cron install`",
        )
    try:
        gap = max_gap_hours(found.schedule)
    except ConfigError as exc:
        return CheckResult.failed(cid, f"invalid schedule {found.schedule!r}", expected, str(exc))
    gap_s = "never" if math.isinf(gap) else f"every {gap:g} h at most"
    return CheckResult.judge(
        cid,
        gap <= max_age_hours,
        f"{found.schedule!r} in {backend.description} (runs {gap_s})",
        expected,
    )


def check_retention(directory: Path, retain_days: int, now: datetime | None = None) -> CheckResult:
    """Retention is configured and applied: nothing past ``retain_days`` that should be gone."""
    cid = "backup.retention"
    expected = f"retain_days >= 1 and no expired backups left (retain {retain_days} days)"
    try:
        plan = plan_prune(directory, retain_days, now)
    except ConfigError as exc:
        return CheckResult.failed(cid, f"retain_days = {retain_days!r}", expected, str(exc))
    kept = len(plan.keep) + len(plan.protected)
    if plan.delete:
        names = ", ".join(b.path.name for b in plan.delete[:3])
        return CheckResult.failed(
            cid,
            f"{len(plan.delete)} expired backup(s) still present: {names}",
            expected,
            "retention is not being applied: run "
            "`prodcheck backups prune` or check the scheduled job",
        )
    return CheckResult.passed(
        cid, f"{kept} backup(s) within {retain_days} days (or protected)", expected
    )
