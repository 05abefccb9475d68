"""``prodcheck backup``, ``prodcheck restore`` and ``prodcheck backups list|verify|prune``.

    $ prodcheck backup --all --verify --s3    # the guide's backup_databases.sh --all --verify --s3
    main: backups/databases/main_db_20250128_120000.sql.gz (1.2 MB, 5 tables, 6000 rows, 0.8 s)
    main: verified by a restore drill (5 tables, 6000 rows match the manifest, 1.9 s)
    main: uploaded to s3://acme-backups/databases/main_db_20250128_120000.sql.gz (identical)
    $ prodcheck restore backups/databases/ai_db_20250128_120000.sql.gz --ai --yes
    $ prodcheck backups list --s3
    $ prodcheck backups verify backups/databases/main_db_20250128_120000.sql.gz
    $ prodcheck backups prune --retain 30 --dry-run

Exit codes: 0 done, 1 a verification failed or the restore was declined, 2 bad arguments /
configuration / unusable backup file, 3 database or S3 unreachable, or a tool failed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

from pytest_prodcheck.backup.catalog import human_size, list_backups
from pytest_prodcheck.backup.dump import dump_database
from pytest_prodcheck.backup.manifest import iso, utc_now
from pytest_prodcheck.backup.naming import KINDS, Kind, parse_name
from pytest_prodcheck.backup.restore import restore_database
from pytest_prodcheck.backup.retention import apply_prune, check_retain_days, plan_prune
from pytest_prodcheck.backup.s3 import S3Store
from pytest_prodcheck.backup.settings import BackupConfig
from pytest_prodcheck.backup.verify import (
    DrillMismatch,
    InvalidBackup,
    check_integrity,
    verify_backup,
)
from pytest_prodcheck.core.errors import ConfigError, ProdcheckError
from pytest_prodcheck.core.secrets import mask_text


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    try:
        from pytest_prodcheck.commands._common import add_config_args
    except ImportError:  # pragma: no cover - foundation helper absent
        parser.add_argument("--config", metavar="PATH", help="prodcheck.toml to read")
        return
    add_config_args(parser)


def _days(text: str) -> int:
    try:
        return check_retain_days(int(text))
    except (ValueError, ConfigError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days >= 1") from None


def _common(p: argparse.ArgumentParser, *, s3: bool = True) -> None:
    p.add_argument("--dir", metavar="DIR", help="backup directory (default: [backup] dir)")
    if s3:
        p.add_argument("--endpoint-url", metavar="URL", help="S3-compatible endpoint")
    _add_config_args(p)


def register(subparsers: Any) -> None:
    """Add ``backup``, ``restore`` and ``backups`` to the CLI."""
    p = subparsers.add_parser(
        "backup",
        help="back up the databases (pg_dump → .sql.gz + checksum + manifest)",
        description="Back up the main and/or AI database, then apply retention.",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--all",
        dest="which",
        action="store_const",
        const="all",
        help="every configured database (default)",
    )
    which.add_argument("--main", dest="which", action="store_const", const="main")
    which.add_argument("--ai", dest="which", action="store_const", const="ai")
    p.add_argument(
        "--retain", type=_days, metavar="DAYS", help="delete backups older than DAYS (default: 30)"
    )
    p.add_argument("--s3", action="store_true", help="upload to AWS_BACKUP_BUCKET")
    p.add_argument(
        "--verify",
        action="store_true",
        help="integrity check + restore drill into a scratch database",
    )
    _common(p)
    p.set_defaults(func=run_backup, which="all")

    r = subparsers.add_parser(
        "restore",
        help="restore a backup (safety backup first; the original stays if anything fails)",
        description="Check FILE, take a safety backup, restore into a new database, swap it in.",
    )
    r.add_argument("file", metavar="FILE", help="a main_db_*.sql.gz / ai_db_*.sql.gz backup")
    r.add_argument("--ai", action="store_true", help="restore into the AI database")
    r.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _common(r, s3=False)
    r.set_defaults(func=run_restore)

    b = subparsers.add_parser("backups", help="list, verify or prune backups")
    sub = b.add_subparsers(dest="backups_command", metavar="COMMAND")
    sub.required = True
    ls = sub.add_parser("list", help="local (and with --s3 remote) backups: age, size, status")
    ls.add_argument("--s3", action="store_true", help="also list the S3 copies")
    _common(ls)
    ls.set_defaults(func=run_list)
    v = sub.add_parser("verify", help="integrity check + restore drill of FILE")
    v.add_argument("file", metavar="FILE")
    v.add_argument("--integrity-only", action="store_true", help="skip the restore drill")
    _common(v, s3=False)
    v.set_defaults(func=run_verify)
    pr = sub.add_parser("prune", help="apply retention (never the newest verified backup)")
    pr.add_argument("--retain", type=_days, metavar="DAYS")
    pr.add_argument("--dry-run", action="store_true", help="only show what would be deleted")
    _common(pr, s3=False)
    pr.set_defaults(func=run_prune)


# -------------------------------------------------------------------------------------------------


def _exit_on_sigterm() -> None:
    """SIGTERM (e.g. from cron or systemd) unwinds like Ctrl-C: children killed, temp files gone."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, handler)


def _config(args: argparse.Namespace) -> BackupConfig:
    _exit_on_sigterm()
    from pytest_prodcheck.commands._common import settings_from_args

    cfg = BackupConfig.from_settings(settings_from_args(args), os.environ)
    changes: dict[str, Any] = {}
    if getattr(args, "dir", None):
        changes["dir"] = Path(args.dir)
    if getattr(args, "endpoint_url", None) and cfg.s3 is not None:
        from dataclasses import replace

        changes["s3"] = replace(cfg.s3, endpoint_url=args.endpoint_url)
    if changes:
        from dataclasses import replace

        cfg = replace(cfg, **changes)
    return cfg


def _out(cfg: BackupConfig, text: str) -> None:
    print(mask_text(text, extra=cfg.secrets()), flush=True)


def _err(cfg: BackupConfig, text: str) -> None:
    print(f"prodcheck: error: {mask_text(text, extra=cfg.secrets())}", file=sys.stderr, flush=True)


def run_backup(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if args.which == "all":
        kinds: list[Kind] = [k for k in KINDS if (cfg.main if k == "main" else cfg.ai)]
        if not kinds:
            cfg.target("main")  # raises the ConfigError saying what to set
        for skipped in (k for k in KINDS if k not in kinds):
            _out(cfg, f"{skipped}: skipped (no DSN configured for it)")
    else:
        kinds = ["main" if args.which == "main" else "ai"]
        cfg.target(kinds[0])
    store = S3Store(cfg.require_s3()) if args.s3 else None
    retain = args.retain or cfg.retain_days
    _out(cfg, f"{iso(utc_now())} backing up {', '.join(kinds)} into {cfg.dir}")
    failures: list[ProdcheckError] = []
    for kind in kinds:
        try:
            result = dump_database(cfg.target(kind), kind, cfg.dir, bindir=cfg.pg_bindir)
            m = result.manifest
            _out(
                cfg,
                f"{kind}: {result.path} ({human_size(m.size_bytes)}, {len(m.tables)} tables, "
                f"{m.total_rows} rows, {m.duration_s:.1f} s)",
            )
            if args.verify:
                _, drill = verify_backup(result.path, cfg.admin_for(kind), bindir=cfg.pg_bindir)
                _out(
                    cfg,
                    f"{kind}: verified by a restore drill ({drill.tables} tables, "
                    f"{drill.rows} rows match, {drill.total_s:.1f} s)",
                )
            if store is not None:
                obj = store.upload(result.path)
                enc = ", server-side encrypted" if obj.encrypted else ""
                _out(
                    cfg,
                    f"{kind}: uploaded to s3://{store.config.bucket}/{obj.key} "
                    f"(identical: size, ETag, SHA-256{enc})",
                )
        except ProdcheckError as exc:
            _err(cfg, f"{kind} backup failed: {exc}")
            failures.append(exc)
    plan = plan_prune(cfg.dir, retain)
    for path in apply_prune(plan):
        _out(cfg, f"retention ({retain} days): deleted {path.name}")
    if failures:
        codes = [1 if isinstance(e, DrillMismatch) else e.exit_code for e in failures]
        return max(codes)
    return 0


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise ConfigError("refusing to restore without confirmation: pass --yes")
    answer = input(f"{question} This replaces its current data. [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def run_restore(args: argparse.Namespace) -> int:
    cfg = _config(args)
    kind: Kind = "ai" if args.ai else "main"
    target = cfg.target(kind)
    path = Path(args.file)
    result = restore_database(
        path,
        target=target,
        kind=kind,
        admin=cfg.admin,
        safety_dir=cfg.dir / "safety",
        bindir=cfg.pg_bindir,
        confirm=None if args.yes else _confirm,
        log=lambda msg: _out(cfg, msg),
    )
    _out(
        cfg,
        f"done: {result.database!r} now holds {path.name} ({result.tables} tables, "
        f"{result.rows} rows, {result.duration_s:.1f} s); "
        f"safety backup of the previous data: {result.safety_backup}",
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    cfg = _config(args)
    now = utc_now()
    backups = list_backups(cfg.dir)
    if not backups:
        _out(cfg, f"no backups in {cfg.dir}")
    else:
        _out(cfg, f"{'backup':<34} {'age':>8} {'size':>10}  status")
        for b in reversed(backups):
            age = b.age_hours(now)
            age_s = f"{age:.1f} h" if age < 48 else f"{age / 24:.1f} d"
            _out(cfg, f"{b.path.name:<34} {age_s:>8} {human_size(b.size_bytes):>10}  {b.status}")
    for kind in KINDS:
        newest = next((b for b in reversed(backups) if b.kind == kind), None)
        if newest is not None:
            age = newest.age_hours(now)
            state = "OK" if age < cfg.max_age_hours else "STALE: check the schedule"
            _out(
                cfg, f"newest {kind} backup: {age:.1f} h old (limit {cfg.max_age_hours} h): {state}"
            )
    if args.s3:
        store = S3Store(cfg.require_s3())
        remote = store.list()
        _out(cfg, f"\n{store.config.where}: {len(remote)} backup(s)")
        local = {b.path.name for b in backups}
        for obj in reversed(remote):
            name = obj.key.rsplit("/", 1)[-1]
            parsed = parse_name(name)
            age = (now - parsed[1]).total_seconds() / 3600 if parsed else 0.0
            age_s = f"{age:.1f} h" if age < 48 else f"{age / 24:.1f} d"
            mark = "in S3 and local" if name in local else "in S3 only"
            _out(cfg, f"{name:<34} {age_s:>8} {human_size(obj.size_bytes):>10}  {mark}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    cfg = _config(args)
    path = Path(args.file)
    parsed = parse_name(path.name)
    try:
        if args.integrity_only:
            report = check_integrity(path, expect_kind=parsed[0] if parsed else None)
            _out(
                cfg,
                f"OK: {path.name} is intact ({len(report.tables)} tables, "
                f"{report.total_rows} rows; no restore drill)",
            )
            return 0
        # a file named main_db_* must hold a dump of the main database (and ai_db_* of the ai
        # one): a misnamed file marked verified would count as the other database's backup
        if parsed is not None:
            kind: Kind = parsed[0]
        else:
            kind = "ai" if check_integrity(path).kind == "ai" else "main"
        _, drill = verify_backup(
            path, cfg.admin_for(kind), bindir=cfg.pg_bindir, expect_kind=kind if parsed else None
        )
    except (InvalidBackup, DrillMismatch) as exc:
        _err(cfg, f"FAILED: {exc}")
        return 1
    _out(
        cfg,
        f"OK: {path.name} restores: {drill.tables} tables, {drill.rows} rows match the "
        f"manifest (drill {drill.total_s:.1f} s); marked verified",
    )
    return 0


def run_prune(args: argparse.Namespace) -> int:
    cfg = _config(args)
    retain = args.retain or cfg.retain_days
    plan = plan_prune(cfg.dir, retain)
    verb = "would delete" if args.dry_run else "deleted"
    for b, why in plan.protected:
        _out(cfg, f"keep {b.path.name} (older than {retain} days, but the {why})")
    if args.dry_run:
        for b in plan.delete:
            _out(cfg, f"{verb} {b.path.name}")
    else:
        for path in apply_prune(plan):
            _out(cfg, f"{verb} {path.name}")
    _out(cfg, f"{len(plan.delete)} {verb}, {len(plan.keep) + len(plan.protected)} kept")
    return 0
