"""suites/test_pooling.py end to end (inner pytest runs) against an ``external`` target built from
real services: skips naming the key when DSNs are missing, fails on a wrong PgBouncer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.stack.pgbouncer import PgBouncerOptions, PgBouncerServer
from pytest_prodcheck.stack.postgres import PostgresServer

SUITE = Path(__file__).resolve().parent.parent / "suites" / "test_pooling.py"
USE_SUITE_CONFTEST = 'pytest_plugins = ["suite_conftest"]\n'


@pytest.fixture(scope="module")
def session_pgb(pg):
    b = PgBouncerServer(make_tempdir("pgb-"), pg, PgBouncerOptions(pool_mode="session")).start()
    yield b
    b.stop()


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    shutil.copy(SUITE, pytester.path / "test_pooling.py")
    # the suites' conftest (judge, …) as a plugin, so a test can still write its own conftest
    shutil.copy(SUITE.with_name("conftest.py"), pytester.path / "suite_conftest.py")
    pytester.makeconftest(USE_SUITE_CONFTEST)
    return pytester


def test_missing_dsns_skip_naming_the_key(suite: pytest.Pytester) -> None:
    suite.makefile(".toml", prodcheck='target = "external"\n')
    result = suite.runpytest_subprocess("-m", "pooling", "-rs")
    result.assert_outcomes(skipped=11)
    out = result.stdout.str()
    assert (
        "pgbouncer_admin_dsn is not configured: set [pgbouncer] admin_dsn in prodcheck.toml" in out
    )
    assert "postgres_dsn is not configured: set [database] dsn in prodcheck.toml" in out
    assert "failover restarts PgBouncer, which prodcheck does only on the local target" in out


def test_session_pooling_target_fails_the_audit_with_evidence(
    suite: pytest.Pytester,
    pg: PostgresServer,
    session_pgb: PgBouncerServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("T_APP_DB", pg.dsn("ecommerce"))
    monkeypatch.setenv("T_APP_AI_DB", pg.dsn("ai"))
    monkeypatch.setenv("T_PGB", session_pgb.dsn("ecommerce"))
    monkeypatch.setenv("T_PGB_ADMIN", session_pgb.admin_dsn)
    suite.makefile(
        ".toml",
        prodcheck=(
            'target = "external"\n'
            '[database]\ndsn = "${T_APP_DB}"\nai_dsn = "${T_APP_AI_DB}"\n'
            '[pgbouncer]\ndsn = "${T_PGB}"\nadmin_dsn = "${T_PGB_ADMIN}"\n'
        ),
    )
    with psycopg.connect(session_pgb.dsn("ecommerce"), autocommit=True) as app:
        app.execute("SELECT 1")  # an app client, so the monitoring views have a pool to show
        result = suite.runpytest_subprocess(
            "-m", "smoke and pooling", "--prodcheck-report-dir", "out"
        )
    result.assert_outcomes(passed=7, failed=1)
    assert "pool_mode is session, expected transaction" in result.stdout.str()
    report = json.loads((suite.path / "out" / "checklist.json").read_text())
    items = {i["id"]: i for i in report["items"]}
    assert items["performance.pgbouncer"]["status"] == "failed"
    evidence = {e["name"]: e for e in items["performance.pgbouncer"]["evidence"]}
    assert evidence["pgbouncer.config.pool_mode"]["observed"] == "session"
    assert evidence["pgbouncer.config.pool_mode"]["expected"] == "transaction"
    assert "ecommerce/app: cl_active=1" in evidence["SHOW POOLS"]["observed"]
    assert "pool_mode=session" in evidence["SHOW POOLS"]["observed"]
    assert "ecommerce: total_xact_count=" in evidence["SHOW STATS"]["observed"]
    assert "ecommerce/app: active=1" in evidence["SHOW CLIENTS"]["observed"]
    assert evidence["pgbouncer.prepared-statements"]["status"] == "n/a"
    assert items["security.default-passwords"]["status"] == "passed"
    assert report["verdict"] == "NO-GO"
    text = (suite.path / "out" / "checklist.json").read_text()
    assert pg.app_password not in text and session_pgb.admin_password not in text


@pytest.fixture(scope="module")
def guide_pgb(pg):
    b = PgBouncerServer(make_tempdir("pgb-"), pg).start()
    yield b
    b.stop()


CONFTEST_DECLARING_TARGET = (
    USE_SUITE_CONFTEST
    + """
import os
import pytest
from pytest_prodcheck.stack.endpoints import Endpoints

@pytest.fixture(scope="session")
def prodcheck_stack():
    return Endpoints(
        target="local",
        pgbouncer_admin_dsn=os.environ["T_PGB_ADMIN"],
        extras={"app_prepared_statements": "disabled"},
    )
"""
)


def test_prepared_statements_are_accepted_only_when_declared_disabled(
    suite: pytest.Pytester, guide_pgb: PgBouncerServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PgBouncer 1.18 in transaction mode: a risk unless the target or the config declares that
    every client disables server-side prepares (no special case for the local target)."""
    monkeypatch.setenv("T_PGB_ADMIN", guide_pgb.admin_dsn)
    suite.makefile(
        ".toml", prodcheck='target = "external"\n[pgbouncer]\nadmin_dsn = "${T_PGB_ADMIN}"\n'
    )
    undeclared = suite.runpytest_subprocess("-k", "prepared-statements")
    undeclared.assert_outcomes(failed=1)
    assert "PgBouncer cannot track prepared statements under transaction pooling" in (
        undeclared.stdout.str()
    )
    suite.makefile(".toml", prodcheck="")
    suite.makeconftest(CONFTEST_DECLARING_TARGET)
    by_target = suite.runpytest_subprocess(
        "-k", "prepared-statements", "--prodcheck-report-dir", "out"
    )
    by_target.assert_outcomes(passed=1)
    evidence = json.loads((suite.path / "out" / "checklist.json").read_text())
    observed = [
        e["observed"]
        for i in evidence["items"]
        for e in i["evidence"]
        if e["name"] == "pgbouncer.prepared-statements"
    ]
    assert (
        observed
        and "declared by the target (extras app_prepared_statements=disabled)" in (observed[0])
    )
