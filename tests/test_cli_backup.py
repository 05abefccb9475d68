"""The ``prodcheck backup/restore/backups/cron`` commands end to end, as a user runs them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.backup.catalog import latest_backup, list_backups
from pytest_prodcheck.backup.naming import manifest_path, sha256_path
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.stack.s3 import S3Server
from tests._backup_env import PRODCHECK, BackupEnv, start_s3, stop_s3
from tests._backup_env import cli_env as _env
from tests._backup_env import run_cli as run


@pytest.fixture(scope="module")
def env() -> Iterator[BackupEnv]:
    e = BackupEnv.start(orders=100000)
    yield e
    e.stop()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = start_s3()
    yield server
    stop_s3(server)


@pytest.fixture(scope="module")
def workdir(env: BackupEnv) -> Path:
    return env.new_dir("cli")


def _no_secrets(proc: subprocess.CompletedProcess[str], env: BackupEnv) -> None:
    text = proc.stdout + proc.stderr
    for pw in env.server.passwords():
        assert pw not in text
    assert "Traceback" not in text


def test_backup_all_verify_s3_then_list_and_verify(env, s3, workdir):
    d = workdir / "b1"
    e = _env(env, s3)
    proc = run(
        ["backup", "--all", "--verify", "--s3", "--dir", str(d), "--endpoint-url", s3.endpoint_url],
        e,
        workdir,
    )
    assert proc.returncode == 0, proc.stderr
    _no_secrets(proc, env)
    out = proc.stdout
    assert "main: " in out and "ai: " in out and "verified by a restore drill" in out
    assert out.count("uploaded to s3://") == 2
    main = latest_backup(d, "main")
    assert main is not None and main.verified
    listed = run(
        ["backups", "list", "--dir", str(d), "--s3", "--endpoint-url", s3.endpoint_url], e, workdir
    )
    assert listed.returncode == 0, listed.stderr
    assert main.path.name in listed.stdout and "verified" in listed.stdout
    assert "s3://prodcheck-backups/databases/ at http://127.0.0.1:" in listed.stdout
    assert ": 2 backup(s)" in listed.stdout
    ok = run(["backups", "verify", str(main.path)], e, workdir)
    assert ok.returncode == 0 and "OK:" in ok.stdout, ok.stderr
    # a damaged copy fails verification with exit 1 and one clear line
    bad_dir = workdir / "bad"
    bad_dir.mkdir()
    for p in (main.path, sha256_path(main.path), manifest_path(main.path)):
        shutil.copy2(p, bad_dir / p.name)
    bad = bad_dir / main.path.name
    bad.write_bytes(bad.read_bytes()[:-100])
    failed = run(["backups", "verify", str(bad)], e, workdir)
    assert failed.returncode == 1 and "FAILED" in failed.stderr and "truncated" in failed.stderr
    _no_secrets(failed, env)


def test_restore_and_its_refusals(env, workdir):
    d = workdir / "b2"
    e = _env(env)
    assert run(["backup", "--dir", str(d)], e, workdir).returncode == 0
    main, ai = latest_backup(d, "main"), latest_backup(d, "ai")
    assert main and ai
    before = env.snapshot("main")
    with env.main.connect() as conn:
        conn.execute(
            "DELETE FROM products WHERE id > 400 AND id NOT IN (SELECT product_id FROM orders)"
        )
        conn.execute("UPDATE products SET name = 'changed'")
    no_yes = run(["restore", str(main.path), "--dir", str(d)], e, workdir)
    assert no_yes.returncode == 2 and "pass --yes" in no_yes.stderr
    wrong = run(["restore", str(ai.path), "--yes", "--dir", str(d)], e, workdir)
    assert wrong.returncode == 2 and "dump of the ai database" in wrong.stderr
    empty = d / "main_db_20200101_000000.sql.gz"
    empty.write_bytes(b"")
    assert run(["restore", str(empty), "--yes"], e, workdir).returncode == 2
    done = run(["restore", str(main.path), "--yes", "--dir", str(d)], e, workdir)
    assert done.returncode == 0, done.stderr
    assert "safety backup" in done.stdout
    _no_secrets(done, env)
    assert env.snapshot("main") == before
    assert list_backups(d / "safety", "main")


def test_restore_killed_midway_keeps_the_database(env, workdir):
    d = workdir / "b3"
    e = _env(env)
    assert run(["backup", "--main", "--dir", str(d)], e, workdir).returncode == 0
    main = latest_backup(d, "main")
    assert main
    with env.main.connect() as conn:
        conn.execute("DELETE FROM orders WHERE id <= 50")
    before = env.snapshot("main")
    kept = {
        p: p.read_bytes() for p in (main.path, sha256_path(main.path), manifest_path(main.path))
    }
    proc = subprocess.Popen(
        [*PRODCHECK, "restore", str(main.path), "--yes", "--dir", str(d)],
        env=e,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        process_group=0,
    )
    try:
        deadline = time.monotonic() + 60
        seen = False
        while time.monotonic() < deadline and proc.poll() is None:
            rows = env.server.query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE "
                "'ecommerce\\_restore\\_%' AND query LIKE 'COPY%'"
            )
            if rows[0][0]:
                seen = True
                os.killpg(proc.pid, signal.SIGKILL)  # the tool and its psql, mid-way
                break
            time.sleep(0.005)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert seen, "the restore finished before it could be interrupted"
    time.sleep(0.2)  # the server notices the dead client and rolls back
    assert env.snapshot("main") == before
    assert {p: p.read_bytes() for p in kept} == kept  # the backup itself is untouched
    # the next restore removes the half-built database and succeeds
    again = run(["restore", str(main.path), "--yes", "--dir", str(d)], e, workdir)
    assert again.returncode == 0, again.stderr
    assert "left by an interrupted restore" in again.stdout
    assert not [x for x in env.databases() if "_restore_" in x]


def test_unreachable_database_and_missing_config(env, workdir):
    d = workdir / "b4"
    port = free_port()
    e = _env(env, DATABASE_URL=f"postgresql://app:hunter22@127.0.0.1:{port}/ecommerce")
    proc = run(["backup", "--main", "--dir", str(d)], e, workdir)
    assert proc.returncode == 3
    assert "cannot reach PostgreSQL" in proc.stderr and "hunter22" not in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not d.exists() or not list(d.iterdir())
    bare = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "AI_DATABASE_URL")}
    missing = run(["backup", "--ai", "--dir", str(d)], bare, workdir)
    assert missing.returncode == 2 and "AI_DATABASE_URL" in missing.stderr
    assert run(["backup", "--retain", "0"], e, workdir).returncode == 2


def test_s3_unreachable_keeps_the_local_backup(env, workdir):
    d = workdir / "b5"
    e = _env(env, AWS_BACKUP_BUCKET="b-unreach", AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s")
    proc = run(
        [
            "backup",
            "--ai",
            "--s3",
            "--dir",
            str(d),
            "--endpoint-url",
            f"http://127.0.0.1:{free_port()}",
        ],
        e,
        workdir,
    )
    assert proc.returncode == 3 and "cannot reach S3" in proc.stderr
    assert latest_backup(d, "ai") is not None  # nothing lost


def test_prune_dry_run_then_prune(env, workdir):
    d = workdir / "b6"
    e = _env(env)
    assert run(["backup", "--ai", "--dir", str(d)], e, workdir).returncode == 0
    src = latest_backup(d, "ai")
    assert src
    old = d / "ai_db_20200101_000000.sql.gz"
    for a, b in (
        (src.path, old),
        (sha256_path(src.path), sha256_path(old)),
        (manifest_path(src.path), manifest_path(old)),
    ):
        shutil.copy2(a, b)
    dry = run(["backups", "prune", "--dir", str(d), "--dry-run"], e, workdir)
    assert dry.returncode == 0 and f"would delete {old.name}" in dry.stdout and old.exists()
    real = run(["backups", "prune", "--dir", str(d), "--retain", "30"], e, workdir)
    assert real.returncode == 0 and f"deleted {old.name}" in real.stdout
    assert not old.exists() and not sha256_path(old).exists() and src.path.exists()


def test_cron_install_show_remove(workdir):
    tab = workdir / "crontab.txt"
    e = {k: v for k, v in os.environ.items() if not k.startswith("PRODCHECK_")}
    args = ["--crontab-file", str(tab)]
    empty = run(["cron", "show", *args], e, workdir)
    assert empty.returncode == 1 and "prodcheck cron install" in empty.stdout
    first = run(["cron", "install", *args], e, workdir)
    assert first.returncode == 0 and "installed" in first.stdout, first.stderr
    text = tab.read_text()
    assert "0 2 * * * cd " in text and "backup --all --verify" in text
    assert ">> /var/log/ecommerce_backup.log 2>&1" in text
    again = run(["cron", "install", *args], e, workdir)
    assert "unchanged" in again.stdout and tab.read_text() == text
    custom = run(
        ["cron", "install", "--custom", "0 */6 * * *", "--s3", "--retain", "14", *args], e, workdir
    )
    assert custom.returncode == 0
    renew = run(["cron", "install", "--job", "ssl-renew", *args], e, workdir)
    assert renew.returncode == 0
    shown = run(["cron", "show", *args], e, workdir)
    assert shown.returncode == 0
    assert "0 */6 * * *" in shown.stdout and "--retain 14 --verify --s3" in shown.stdout
    assert (
        "ssl-renew" in shown.stdout and "0 3 * * *" in shown.stdout and "ssl renew" in shown.stdout
    )
    # the guide's renewal line: 0 3 * * * … renew … >> /var/log/ssl_renewal.log 2>&1
    renew_line = next(ln for ln in tab.read_text().splitlines() if " ssl renew" in ln)
    assert renew_line.startswith("0 3 * * * cd ")
    assert renew_line.endswith(">> /var/log/ssl_renewal.log 2>&1")
    bad = run(["cron", "install", "--custom", "0 25 * * *", *args], e, workdir)
    assert bad.returncode == 2 and "hour 25 is out of range" in bad.stderr
    e_file = dict(e, PRODCHECK_CRONTAB_FILE=str(tab))
    assert run(["cron", "remove", "ssl-renew"], e_file, workdir).returncode == 0
    assert "ssl-renew" not in tab.read_text() and "backup --all" in tab.read_text()


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_backup_leaves_no_process_and_no_partial_file(env, workdir, sig):
    d = workdir / f"b7-{sig.name}"
    e = _env(env)
    proc = subprocess.Popen(
        [*PRODCHECK, "backup", "--main", "--dir", str(d)],
        env=e,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    children: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            rows = env.server.query(
                "SELECT count(*) FROM pg_stat_activity WHERE "
                "application_name = 'pg_dump' AND query LIKE 'COPY%'"
            )
            if rows[0][0]:
                children = _children(proc.pid)
                proc.send_signal(sig)
                break
            time.sleep(0.005)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert children, "pg_dump finished before the signal could be sent"
    assert proc.returncode in (130, 128 + sig), err
    assert "Traceback" not in err
    time.sleep(0.1)
    assert not [c for c in children if Path(f"/proc/{c}").exists()]
    assert not d.exists() or list(d.iterdir()) == []


def test_cron_daily_keeps_each_jobs_hour_and_config_overrides(workdir):
    tab = workdir / "crontab-daily.txt"
    e = {k: v for k, v in os.environ.items() if not k.startswith("PRODCHECK_")}
    args = ["--crontab-file", str(tab)]
    assert (
        run(["cron", "install", "--job", "ssl-renew", "--daily", *args], e, workdir).returncode == 0
    )
    assert any(ln.startswith("0 3 * * * ") for ln in tab.read_text().splitlines())
    config = workdir / "prodcheck.toml"
    config.write_text('[backup]\nschedule = "30 1 * * *"\nlog = "/tmp/nightly-backup.log"\n')
    done = run(["cron", "install", "--config", str(config), *args], e, workdir)
    assert done.returncode == 0, done.stderr
    line = next(ln for ln in tab.read_text().splitlines() if "backup --all" in ln)
    assert line.startswith("30 1 * * * ") and line.endswith(">> /tmp/nightly-backup.log 2>&1")
