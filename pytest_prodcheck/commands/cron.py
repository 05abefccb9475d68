"""``prodcheck cron install|show|remove``: the guide's ``setup_backup_cron.sh`` (and more jobs).

    $ prodcheck cron install             # backup job, daily 02:00, logging to the guide's file
    $ prodcheck cron install --hourly --s3
    $ prodcheck cron install --custom "0 */6 * * *"
    $ prodcheck cron install --job ssl-renew        # certificate renewal, daily 03:00
    $ prodcheck cron show
    backup     0 2 * * *  cd /srv/shop && /srv/venv/bin/prodcheck backup --all --retain 30 --verify
    $ prodcheck cron install --crontab-file /tmp/crontab.txt   # a file instead of the crontab

Installing is idempotent (a job is a marked block replaced in place; other lines are kept).
The target crontab: ``--crontab-file`` / ``$PRODCHECK_CRONTAB_FILE`` (a plain file),
``--crontab-user`` / ``$PRODCHECK_CRONTAB_USER`` (``crontab -u``), else the current user's.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_prodcheck.backup.schedule import (
    CrontabBackend,
    backend_from,
    install_job,
    list_jobs,
    remove_job,
)
from pytest_prodcheck.core.cron import validate_schedule
from pytest_prodcheck.core.errors import ConfigError

DAILY = "0 2 * * *"
HOURLY = "0 * * * *"


@dataclass(frozen=True)
class JobTemplate:
    """A job ``prodcheck cron install --job NAME`` knows how to build."""

    name: str
    schedule: str
    log: str
    args: tuple[str, ...]  # prodcheck sub-command and options


JOBS: dict[str, JobTemplate] = {
    "backup": JobTemplate("backup", DAILY, "/var/log/ecommerce_backup.log", ("backup", "--all")),
    "ssl-renew": JobTemplate(
        "ssl-renew", "0 3 * * *", "/var/log/ssl_renewal.log", ("ssl", "renew")
    ),
}


def prodcheck_argv() -> list[str]:
    """How cron should start this very prodcheck (the venv's script, else ``python -m``)."""
    script = Path(sys.executable).parent / "prodcheck"
    if script.is_file():
        return [str(script)]
    found = shutil.which("prodcheck")
    if found:
        return [str(Path(found).resolve())]
    return [sys.executable, "-m", "pytest_prodcheck.cli"]


def job_command(template: JobTemplate, extra: list[str], cwd: Path, config: str | None) -> str:
    argv = [*prodcheck_argv(), *template.args, *extra]
    if config:
        argv += ["--config", str(Path(config).resolve())]
    return f"cd {shlex.quote(str(cwd))} && {shlex.join(argv)}"


def _backend(args: argparse.Namespace) -> CrontabBackend:
    return backend_from(crontab_file=args.crontab_file, user=args.crontab_user)


def register(subparsers: Any) -> None:
    """Add ``prodcheck cron`` to the CLI."""
    parser = subparsers.add_parser(
        "cron",
        help="install/show the backup (and certificate renewal) schedule",
        description="Manage prodcheck's jobs in a crontab (idempotent, validated).",
    )
    sub = parser.add_subparsers(dest="cron_command", metavar="COMMAND")
    sub.required = True

    def backend_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--crontab-file", metavar="PATH", help="write a plain file instead of a user's crontab"
        )
        p.add_argument("--crontab-user", metavar="USER", help="crontab -u USER (root only)")

    inst = sub.add_parser("install", help="install or update a job (default: backup, daily 2 AM)")
    when = inst.add_mutually_exclusive_group()
    when.add_argument(
        "--daily",
        dest="schedule",
        action="store_const",
        const=None,
        help="every day at the job's hour: backup 02:00, ssl-renew 03:00 (the default)",
    )
    when.add_argument("--hourly", dest="schedule", action="store_const", const=HOURLY)
    when.add_argument(
        "--custom", dest="schedule", metavar="EXPR", help="a cron expression, e.g. '0 */6 * * *'"
    )
    inst.add_argument("--job", choices=sorted(JOBS), default="backup")
    inst.add_argument("--log", metavar="PATH", help="log file (default: the guide's)")
    inst.add_argument("--retain", type=int, metavar="DAYS", help="backup job: retention days")
    inst.add_argument("--s3", action="store_true", help="backup job: also upload to S3")
    inst.add_argument(
        "--no-verify", action="store_true", help="backup job: skip the nightly restore drill"
    )
    inst.add_argument("--config", metavar="PATH", help="prodcheck.toml the job should read")
    backend_args(inst)
    inst.set_defaults(func=run_install)

    show = sub.add_parser("show", help="print the installed prodcheck jobs")
    backend_args(show)
    show.set_defaults(func=run_show)

    rm = sub.add_parser("remove", help="remove a job")
    rm.add_argument("job", metavar="JOB")
    backend_args(rm)
    rm.set_defaults(func=run_remove)


def _configured(template: JobTemplate, args: argparse.Namespace) -> tuple[str, str]:
    """The job's schedule and log from prodcheck.toml (``[backup] schedule/log``, ``[acme]
    renew_schedule/renew_log``), which default to the guide's values."""
    from pytest_prodcheck.commands._common import settings_from_args

    settings = settings_from_args(args)
    if template.name == "backup":
        return settings.backup.schedule, settings.backup.log
    if template.name == "ssl-renew":
        return settings.acme.renew_schedule, settings.acme.renew_log
    return template.schedule, template.log


def run_install(args: argparse.Namespace) -> int:
    template = JOBS[args.job]
    default_schedule, default_log = _configured(template, args)
    schedule = validate_schedule(args.schedule or default_schedule)
    extra: list[str] = []
    if template.name == "backup":
        if args.retain is not None:
            if args.retain < 1:
                raise ConfigError(f"--retain {args.retain}: use a whole number of days >= 1")
            extra += ["--retain", str(args.retain)]
        if not args.no_verify:
            extra.append("--verify")
        if args.s3:
            extra.append("--s3")
    elif args.retain is not None or args.s3 or args.no_verify:
        raise ConfigError(f"--retain/--s3/--no-verify apply to the backup job, not {args.job!r}")
    command = job_command(template, extra, Path(os.getcwd()), args.config)
    log = args.log or default_log
    backend = _backend(args)
    job, changed = install_job(template.name, schedule, command, log=log, backend=backend)
    state = "installed" if changed else "already installed (unchanged)"
    print(f"{job.name}: {state} in {backend.description}")
    print(f"  {job.line}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    backend = _backend(args)
    jobs = list_jobs(backend)
    if not jobs:
        print(f"no prodcheck jobs in {backend.description}: run `prodcheck cron install`")
        return 1
    for job in jobs:
        print(
            f"{job.name:<10} {job.schedule:<12} {job.command}"
            + (f"  >> {job.log}" if job.log else "")
        )
    return 0


def run_remove(args: argparse.Namespace) -> int:
    backend = _backend(args)
    if remove_job(args.job, backend):
        print(f"{args.job}: removed from {backend.description}")
        return 0
    print(f"{args.job}: not installed in {backend.description}")
    return 1
