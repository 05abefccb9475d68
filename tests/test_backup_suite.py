"""suites/test_backups.py run by pytest itself: passes on a good target, fails on a stale one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pytest_prodcheck.backup.dump import dump_database
from pytest_prodcheck.backup.manifest import utc_now
from pytest_prodcheck.stack.s3 import S3Server
from tests._backup_env import BackupEnv, start_s3, stop_s3

SUITE = Path(__file__).resolve().parent.parent / "suites" / "test_backups.py"

SUITE_CONFTEST = SUITE.with_name("conftest.py")  # the suites' own fixtures (judge, …)
CONFTEST = """
pytest_plugins = ["suite_conftest"]
import json, os
import pytest
from pytest_prodcheck.stack.endpoints import Endpoints, S3Endpoint

@pytest.fixture(scope="session")
def prodcheck_stack():
    data = json.loads(os.environ["BACKUP_SUITE_ENDPOINTS"])
    data["s3"] = S3Endpoint(**data["s3"])
    return Endpoints(**data)
"""


@pytest.fixture(scope="module")
def env() -> Iterator[BackupEnv]:
    e = BackupEnv.start()
    yield e
    e.stop()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = start_s3()
    yield server
    stop_s3(server)


def _endpoints(env: BackupEnv, s3: S3Server, target: str) -> str:
    ep = s3.endpoint()
    return json.dumps(
        {
            "target": target,
            "postgres_dsn": env.main.dsn,
            "postgres_ai_dsn": env.ai.dsn,
            "postgres_admin_dsn": env.admin.dsn,
            "pg_bindir": str(env.bindir),
            "s3": {
                "bucket": ep.bucket,
                "endpoint_url": ep.endpoint_url,
                "prefix": f"{target}/",
                "access_key_id": "testing",
                "secret_access_key": "testing",
            },
        }
    )


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    out = {}
    for line in result.outlines:
        words = line.split()
        status = next((w for w in words if w in ("PASSED", "FAILED", "SKIPPED", "ERROR")), None)
        if line.startswith("test_backups.py::") and status:
            out[words[0].split("::", 1)[1]] = status
    return out


def test_suite_passes_on_the_embedded_stack(pytester, env, s3, monkeypatch):
    monkeypatch.setenv("BACKUP_SUITE_ENDPOINTS", _endpoints(env, s3, "local"))
    pytester.makepyfile(suite_conftest=SUITE_CONFTEST.read_text())
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_backups=SUITE.read_text())
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    outcomes = _outcomes(result)
    assert outcomes == {
        "test_check[backup.fresh.main]": "PASSED",
        "test_check[backup.fresh.ai]": "PASSED",
        "test_check[backup.restorable.main]": "PASSED",
        "test_check[backup.restorable.ai]": "PASSED",
        "test_check[backup.s3.main]": "PASSED",
        "test_check[backup.s3.ai]": "PASSED",
        "test_check[backup.schedule]": "PASSED",
        "test_check[backup.retention]": "PASSED",
    }, result.stdout.str()
    report = json.loads((pytester.path / "reports" / "checklist.json").read_text())
    items = {i["id"]: i["status"] for i in report["items"]}
    for item in (
        "backups.test-script",
        "backups.restore-procedure",
        "backups.s3-storage",
        "backups.automated",
        "backups.retention",
        "testing.backup-restore",
        "predeploy.backup-schedule",
        "predeploy.disaster-recovery",
    ):
        assert items[item] == "passed", item
    assert env.main.password not in (pytester.path / "reports" / "checklist.json").read_text()


def test_suite_fails_on_a_stale_deployment(pytester, env, s3, monkeypatch):
    """External target: a 30-hour-old main backup only, never uploaded, no cron job."""
    monkeypatch.setenv("BACKUP_SUITE_ENDPOINTS", _endpoints(env, s3, "external"))
    stale = pytester.path / "backups"
    dump_database(env.main, "main", stale, bindir=env.bindir, now=utc_now() - timedelta(hours=30))
    (pytester.path / "crontab").write_text("")
    monkeypatch.setenv("PRODCHECK_CRONTAB_FILE", str(pytester.path / "crontab"))
    pytester.makefile(".toml", prodcheck='[backup]\ndir = "backups"\n')
    pytester.makepyfile(suite_conftest=SUITE_CONFTEST.read_text())
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_backups=SUITE.read_text())
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    outcomes = _outcomes(result)
    assert outcomes["test_check[backup.fresh.main]"] == "FAILED"
    assert outcomes["test_check[backup.fresh.ai]"] == "FAILED"
    assert outcomes["test_check[backup.restorable.main]"] == "PASSED"  # old, but restorable
    assert outcomes["test_check[backup.restorable.ai]"] == "FAILED"
    assert outcomes["test_check[backup.s3.main]"] == "FAILED"
    assert outcomes["test_check[backup.schedule]"] == "FAILED"
    assert outcomes["test_check[backup.retention]"] == "PASSED"
    result.stdout.fnmatch_lines(["*30.* h old*"])
