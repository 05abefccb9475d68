"""The cached PostgreSQL template: one initdb + shop migration, copied by every server.

    >>> template = ensure_template()            # built once per version/schema/user, under flock
    >>> (template / "READY").exists(), sorted(p.name for p in template.iterdir())[:2]
    (True, ['LAST_USED', 'READY'])
    >>> schema_tag(migrate=False)
    'f4-noshop'

The template (``/var/tmp/prodcheck-pgtemplate-<major>-<tag>-u<uid>/``, root
``PRODCHECK_PG_TEMPLATE_ROOT``) holds roles ``postgres`` and ``app``, databases ``ecommerce`` and
``ai`` owned by ``app``, and the shop's schema + seed (``python -m pytest_prodcheck.shop
migrate``). ``<tag>`` hashes the shop's ``schema*.sql`` and ``SEED_VERSION``, so a schema change
builds a new template; builds are serialised with ``flock``, copies take a shared lock, and
templates of ours unused for :data:`PRUNE_AFTER_S` are removed after a build.
:class:`~pytest_prodcheck.stack.postgres.PostgresServer` copies it in ``prepare()``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.core.proc import chown_tree, service_account
from pytest_prodcheck.core.secrets import mask_text
from pytest_prodcheck.stack.postgres import (
    APP_ROLE,
    DATABASES,
    PostgresServer,
    binary,
    new_password,
    run_as,
    server_version,
)

TEMPLATE_ROOT = Path(os.environ.get("PRODCHECK_PG_TEMPLATE_ROOT", "/var/tmp"))
TEMPLATE_FORMAT = 4  # bump when what the template contains changes
SHOP_DIR = Path(__file__).resolve().parent.parent / "shop"


def _shop_available() -> bool:
    return (SHOP_DIR / "__main__.py").exists() and bool(list(SHOP_DIR.glob("schema*.sql")))


def schema_tag(migrate: bool = True) -> str:
    """Hash of the shop's ``schema*.sql`` + ``SEED_VERSION`` (``"…-noshop"`` without the shop)."""
    schemas = sorted(SHOP_DIR.glob("schema*.sql"))
    seed = SHOP_DIR / "seed.py"
    if not migrate or not _shop_available():
        return f"f{TEMPLATE_FORMAT}-noshop"
    digest = hashlib.sha256(f"format:{TEMPLATE_FORMAT}\n".encode())
    for path in schemas:
        digest.update(path.name.encode() + b"\n" + path.read_bytes())
    if seed.exists():
        m = re.search(r"^SEED_VERSION\s*=\s*(.+)$", seed.read_text(), re.MULTILINE)
        digest.update(f"seed:{m.group(1).strip() if m else '?'}".encode())
    return digest.hexdigest()[:12]


def template_dir(migrate: bool = True) -> Path:
    """Where the template for this PostgreSQL version, shop schema and user lives."""
    tag = schema_tag(migrate)
    return TEMPLATE_ROOT / f"prodcheck-pgtemplate-{server_version()}-{tag}-u{os.getuid()}"


PRUNE_AFTER_S = 2 * 3600  # other templates of ours unused this long are removed after a build


@contextlib.contextmanager
def template_lock(template: Path, *, shared: bool) -> Iterator[None]:
    """``flock`` on ``<template>.lock``: exclusive to build or remove, shared to copy."""
    with open(template.with_name(template.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield


def ensure_template(*, migrate: bool = True) -> Path:
    """Build the template once (under ``flock``); return its directory (``data/``, ``secrets``)."""
    target = template_dir(migrate)
    if (target / "READY").exists():
        return target
    with template_lock(target, shared=False):
        if (target / "READY").exists():
            return target
        build = Path(f"{target}.build-{os.getpid()}")
        shutil.rmtree(build, ignore_errors=True)
        try:
            _build_template(build, migrate=migrate)
            shutil.rmtree(target, ignore_errors=True)
            build.rename(target)
        finally:
            shutil.rmtree(build, ignore_errors=True)
    prune_templates(keep=target)
    return target


def prune_templates(keep: Path, max_age_s: float = PRUNE_AFTER_S) -> list[Path]:
    """Remove our other templates not used (copied) for ``max_age_s`` and not locked right now."""
    removed: list[Path] = []
    pattern = keep.name.split("-")[:3]  # prodcheck, pgtemplate, <major>
    suffix = f"-u{os.getuid()}"
    for candidate in keep.parent.glob("-".join(pattern) + "-*"):
        name = candidate.name
        if candidate == keep or not candidate.is_dir():
            continue
        if ".build-" in name:
            pid = name.rsplit(".build-", 1)[1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                shutil.rmtree(candidate, ignore_errors=True)
                removed.append(candidate)
            continue
        if not name.endswith(suffix):
            continue
        marker = candidate / "LAST_USED"
        stamp = marker if marker.exists() else candidate / "READY"
        with contextlib.suppress(OSError):
            if time.time() - stamp.stat().st_mtime < max_age_s:
                continue
            with open(candidate.with_name(name + ".lock"), "a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                shutil.rmtree(candidate, ignore_errors=True)
                removed.append(candidate)
    return removed


def _build_template(build: Path, *, migrate: bool) -> None:
    account = service_account("postgres")
    build.mkdir(mode=0o711)
    build.chmod(0o711)
    pgroot = build / "pg"
    pgroot.mkdir()
    chown_tree(pgroot, account)
    super_pw, app_pw = new_password(), new_password()
    pwfile = pgroot / "pw"
    pwfile.write_text(super_pw + "\n")
    pwfile.chmod(0o600)
    chown_tree(pwfile, account)
    run_as(
        [
            binary("initdb"),
            "-D",
            str(pgroot / "data"),
            "-U",
            "postgres",
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=peer",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--wal-segsize=1",
            "--no-instructions",
            "--no-sync",
        ],
        account,
        "initdb",
    )
    pwfile.unlink()
    # small WAL while seeding and no recycled segments: the template stays small, copies fast
    wal = {"min_wal_size": "2MB", "max_wal_size": "4MB", "wal_recycle": "off"}
    server = PostgresServer(
        build,
        superuser_password=super_pw,
        app_password=app_pw,
        data_dir=pgroot / "data",
        settings=wal,
    )
    server._template_secrets = {"postgres": super_pw, APP_ROLE: app_pw}
    server._start_process()
    try:
        server.execute(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{server.scram_secret(APP_ROLE)}'")
        for db in DATABASES:
            server.execute(f"CREATE DATABASE {db} OWNER {APP_ROLE} STRATEGY FILE_COPY")
        if migrate and _shop_available():
            _run_shop_migrate(server)
        server.execute("VACUUM", db="ecommerce")
        server.execute("CHECKPOINT")
    finally:
        server.stop()
    for leftover in ("postmaster.opts", "postmaster.pid"):
        with contextlib.suppress(FileNotFoundError):
            (pgroot / "data" / leftover).unlink()
    secrets_file = build / "secrets.json"
    secrets_file.write_text(json.dumps({"postgres": super_pw, APP_ROLE: app_pw}))
    secrets_file.chmod(0o600)
    (build / "READY").write_text(schema_tag(migrate) + "\n")


def _run_shop_migrate(server: PostgresServer) -> None:
    env = dict(os.environ)
    env["PRODCHECK_SHOP_DSN"] = server.dsn("ecommerce")
    env["PRODCHECK_SHOP_AI_DSN"] = server.dsn("ai")
    res = subprocess.run(
        [sys.executable, "-m", "pytest_prodcheck.shop", "migrate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    if res.returncode != 0:
        lines = [ln for ln in (res.stderr or res.stdout).splitlines() if ln.strip()]
        detail = mask_text(" | ".join(lines[-3:]), extra=server.passwords())
        raise ToolError(f"shop migration into the PostgreSQL template failed: {detail}")
