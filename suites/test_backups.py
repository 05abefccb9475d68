"""Backups that are proven restorable: fresh, restorable (drill), off-site, scheduled, pruned.

    pytest -m backups                       # all backup checks
    pytest -m "smoke and backups"           # freshness + restore drill of the newest backups

What is checked depends on the target:

- ``external`` / ``docker``: what is really there — the newest ``main_db_*``/``ai_db_*`` in
  ``[backup] dir``, its copy in ``[s3] bucket`` (``AWS_BACKUP_BUCKET``), the crontab of the user
  running pytest (or ``$PRODCHECK_CRONTAB_FILE`` / ``$PRODCHECK_CRONTAB_USER``). The restore drill
  creates (and always drops) a scratch database with ``[database] admin_dsn``.
- ``local`` (the embedded stack, which has no history): the suite first does what an operator
  does — ``prodcheck backup --all --s3`` into a temp dir (so freshness is true, not assumed),
  ``prodcheck cron install`` into a file-backed crontab, and an old backup is dumped under a
  40-day-old name so that retention has something to prune — and then runs the same checks.

One test per row of :data:`~pytest_prodcheck.backup.check_table.BACKUP_CHECKS`
(``test_check[backup.fresh.main]`` …), with that row's markers and checklist items.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from pytest_prodcheck.backup.check_table import BACKUP_CHECKS, BackupCheck, BackupSite
from pytest_prodcheck.backup.dump import dump_database
from pytest_prodcheck.backup.manifest import utc_now
from pytest_prodcheck.backup.naming import Kind
from pytest_prodcheck.backup.retention import apply_prune, plan_prune
from pytest_prodcheck.backup.s3 import S3Store
from pytest_prodcheck.backup.schedule import CrontabBackend, FileCrontab, backend_from, install_job
from pytest_prodcheck.backup.settings import BackupConfig, backup_config_for_stack
from pytest_prodcheck.config import Settings
from pytest_prodcheck.stack.endpoints import Endpoints

if TYPE_CHECKING:
    from suites.conftest import Judge

pytestmark = [pytest.mark.backups]

CHECKS = BACKUP_CHECKS


def _prepare_local(cfg: BackupConfig) -> tuple[CrontabBackend, S3Store | None]:
    """Do what an operator does on a fresh deployment (see the module docstring)."""
    from pytest_prodcheck.commands.cron import JOBS, job_command

    store = S3Store(cfg.s3) if cfg.s3 is not None else None
    now = utc_now()
    kinds: tuple[Kind, ...] = ("main", "ai")
    for kind in kinds:
        target = cfg.main if kind == "main" else cfg.ai
        if target is None:
            continue
        dump_database(target, kind, cfg.dir, bindir=cfg.pg_bindir, now=now - timedelta(days=40))
        result = dump_database(target, kind, cfg.dir, bindir=cfg.pg_bindir)
        if store is not None:
            store.upload(result.path)
    apply_prune(plan_prune(cfg.dir, cfg.retain_days))
    crontab = FileCrontab(cfg.dir.parent / "crontab")
    command = job_command(
        JOBS["backup"], ["--retain", str(cfg.retain_days), "--verify", "--s3"], cfg.dir.parent, None
    )
    install_job(
        "backup", cfg.schedule, command, log=str(cfg.dir.parent / "backup.log"), backend=crontab
    )
    return crontab, store


@pytest.fixture(scope="session")
def prodcheck_backups(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings
) -> Iterator[BackupSite]:
    if prodcheck_stack.target in ("local", "docker"):
        from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir

        work = make_tempdir("backups-")
        try:
            cfg = backup_config_for_stack(prodcheck_stack, prodcheck_settings, work / "databases")
            crontab, store = _prepare_local(cfg)
            yield BackupSite(cfg, crontab, store)
        finally:
            remove_tempdir(work)
        return
    cfg = backup_config_for_stack(prodcheck_stack, prodcheck_settings)
    store = S3Store(cfg.s3) if cfg.s3 is not None else None
    yield BackupSite(cfg, backend_from(), store)


def test_check(check: BackupCheck, prodcheck_backups: BackupSite, judge: Judge) -> None:
    judge(check.run(prodcheck_backups))
