"""One distinctive password in every DSN and as the S3 secret; every CLI command and a suite run;
then every byte they wrote is searched for it: stdout, stderr, reports (md/json/html), history
records, backups' manifests and checksums, the crontab, the run registry. Zero hits.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pytest_prodcheck.backup.catalog import list_backups
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import RUN_ROOT, make_tempdir, remove_tempdir
from pytest_prodcheck.stack.s3 import S3Server
from tests._backup_env import PRODCHECK, BackupEnv, cli_env

SECRET = "Xq7DistinctivePw9Zz"  # URL-safe: it appears verbatim in every DSN
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def world() -> Iterator[dict[str, object]]:
    env = BackupEnv.start(orders=200)
    s3 = S3Server(make_tempdir("secrets-s3-")).start()
    work = make_tempdir("secrets-")
    try:
        users = {urlsplit(t.dsn).username for t in (env.main, env.ai, env.admin)}
        env.server.execute("; ".join(f"ALTER ROLE \"{u}\" PASSWORD '{SECRET}'" for u in users))
        env.server.superuser_password = env.server.app_password = SECRET
        dsns = {"main": env.main.dsn, "ai": env.ai.dsn, "admin": env.admin.dsn}
        assert all(SECRET in d for d in dsns.values())
        dead = f"postgresql://pgbouncer:{SECRET}@127.0.0.1:{free_port()}/pgbouncer"
        (work / "prodcheck.toml").write_text(
            "[database]\n"
            f'dsn = "{dsns["main"]}"\nai_dsn = "{dsns["ai"]}"\nadmin_dsn = "{dsns["admin"]}"\n'
            "[pgbouncer]\n"
            f'dsn = "{dead.replace("/pgbouncer", "/ecommerce")}"\nadmin_dsn = "{dead}"\n'
            "[backup]\n"
            f'dir = "{work / "backups"}"\n'
            "[s3]\n"
            f'bucket = "{s3.bucket}"\nendpoint_url = "{s3.endpoint_url}"\n'
        )
        acct = work / "ssl" / "accounts" / "acme.example" / "account.json"
        acct.parent.mkdir(parents=True)
        acct.write_text('{"key": "' + SECRET + '"}')  # a corrupt account key holding the secret
        e = cli_env(env)
        for k in ("DATABASE_URL", "AI_DATABASE_URL", "ADMIN_DATABASE_URL"):
            e.pop(k, None)
        e.update(AWS_ACCESS_KEY_ID="AKIASECRETSTEST", AWS_SECRET_ACCESS_KEY=SECRET,
                 AWS_BACKUP_BUCKET=s3.bucket)  # fmt: skip
        yield {"env": env, "s3": s3, "work": work, "cli_env": e, "dsns": dsns}
    finally:
        s3.stop()
        remove_tempdir(s3.workdir)
        env.stop()
        remove_tempdir(work)


def _commands(work: Path) -> list[list[str]]:
    backups = work / "backups"
    main = list_backups(backups, "main")
    file = str(main[-1].path) if main else str(backups / "main_db_20250101_000000.sql.gz")
    tab = str(work / "crontab.txt")
    return [
        ["backups", "list", "--s3"],
        ["backups", "verify", file],
        ["backups", "prune", "--retain", "30", "--dry-run"],
        ["restore", file, "--yes"],
        ["cron", "install", "--daily", "--s3", "--crontab-file", tab],
        ["cron", "install", "--job", "ssl-renew", "--crontab-file", tab],
        ["cron", "show", "--crontab-file", tab],
        ["pgbouncer", "stats"],
        ["pgbouncer", "config"],
        ["ssl", "renew", "--cert-dir", str(work / "ssl")],
        ["doctor", "--target", "external"],
        ["checklist"],
    ]


def test_no_byte_written_holds_the_secret(world: dict[str, object]) -> None:
    work = world["work"]
    e = world["cli_env"]
    assert isinstance(work, Path) and isinstance(e, dict)
    outputs: dict[str, str] = {}

    def run(args: list[str], env: dict[str, str] = e) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*PRODCHECK, *args], env=env, cwd=work, capture_output=True,
                              text=True, timeout=180)  # fmt: skip
        outputs[" ".join(args)] = done.stdout + done.stderr
        return done

    first = run(["backup", "--all", "--verify", "--s3"])
    assert first.returncode == 0, first.stdout + first.stderr  # the password is really in use
    commands = _commands(work)
    for args in commands:
        run(args)
    # a DSN whose server is gone: the error line names it, masked
    run(["backup", "--main", "--set", f"database.dsn=postgresql://app:{SECRET}@127.0.0.1:"
         f"{free_port()}/ecommerce", "--dir", str(work / "unreachable")])  # fmt: skip
    # the suite: the backup area's smoke checks against this database (external target)
    suite = subprocess.run(
        [str(Path(sys.executable).with_name("pytest")), str(ROOT / "suites" / "test_backups.py"),
         "-m", "smoke", "-p", "no:cacheprovider", "--prodcheck-target", "external",
         "--prodcheck-config", str(work / "prodcheck.toml"),
         "--prodcheck-report-dir", str(work / "reports")],
        env=e, cwd=work, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    outputs["pytest suites/test_backups.py"] = suite.stdout + suite.stderr
    assert (work / "reports" / "checklist.json").is_file(), suite.stdout[-2000:]
    assert (work / "crontab.txt").is_file() and list_backups(work / "backups", "main")

    hits = [name for name, text in outputs.items() if SECRET in text]
    files = [p for p in work.rglob("*") if p.is_file() and p.name != "prodcheck.toml"]
    files = [p for p in files if "accounts" not in p.parts]  # the inputs we wrote ourselves
    hits += [str(p) for p in files if SECRET.encode() in p.read_bytes()]
    hits += [str(p) for p in RUN_ROOT.rglob("*") if p.is_file()
             and SECRET.encode() in p.read_bytes()]  # fmt: skip
    assert len(files) > 10, files  # reports, history, backups + sidecars, crontab, load …
    assert not hits, f"the secret appears in: {hits}"
