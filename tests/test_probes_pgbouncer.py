"""probes/pgbouncer.py against real PgBouncers (one PostgreSQL, several PgBouncers, one wrong knob each)."""

from __future__ import annotations

import pytest

from pytest_prodcheck.core.pgbouncer_admin import AdminConsole
from pytest_prodcheck.probes.pgbouncer import (
    APP_PREPARES_EXTRA,
    MONITORING_VIEWS,
    PgBouncerExpected,
    audit_config,
    check_prepared_statements,
    monitoring_snapshot,
    parse_version,
    prepares_disabled_by,
)
from pytest_prodcheck.stack.pgbouncer import PgBouncerServer


@pytest.fixture(scope="module")
def good(bouncer):
    return bouncer()


def audit(b: PgBouncerServer, expected: PgBouncerExpected | None = None):
    with AdminConsole(b.admin_dsn) as console:
        return {
            r.id: r
            for r in audit_config(
                console.config(), console.databases(), expected or PgBouncerExpected()
            )
        }


# --- configuration audit ------------------------------------------------------------------------


def test_audit_passes_on_the_guides_configuration(good):
    results = audit(good)
    assert all(r.ok for r in results.values()), [r for r in results.values() if not r.ok]
    assert results["pgbouncer.config.pool_mode"].observed == "transaction"
    assert results["pgbouncer.config.server_idle_timeout"].observed == "600"
    assert set(results) == {f"pgbouncer.config.{k}" for k, _ in PgBouncerExpected().items()} | {
        "pgbouncer.config.databases"
    }


def test_audit_fails_on_session_pooling(bouncer):
    results = audit(bouncer(pool_mode="session"))
    failed = [r for r in results.values() if not r.ok]
    assert [r.id for r in failed] == ["pgbouncer.config.pool_mode"]
    assert failed[0].observed == "session" and failed[0].expected == "transaction"
    assert "pool_mode is session, expected transaction" in failed[0].message


def test_audit_fails_on_a_pool_too_large_without_max_db_connections(bouncer):
    results = audit(bouncer(default_pool_size=150, max_db_connections=0))
    failed = {r.id: r for r in results.values() if not r.ok}
    assert set(failed) == {
        "pgbouncer.config.default_pool_size",
        "pgbouncer.config.max_db_connections",
    }
    assert (
        failed["pgbouncer.config.default_pool_size"].message
        == "default_pool_size is 150, expected 25"
    )
    assert "0 = unlimited" in failed["pgbouncer.config.max_db_connections"].message


def test_audit_honours_overridden_expectations(bouncer):
    b = bouncer(default_pool_size=40, server_idle_timeout=300)
    assert not audit(b)["pgbouncer.config.server_idle_timeout"].ok
    results = audit(b, PgBouncerExpected(default_pool_size=40, server_idle_timeout=300))
    assert all(r.ok for r in results.values())


def test_audit_flags_per_database_overrides():
    config = {"pool_mode": "transaction", "default_pool_size": "25", "max_db_connections": "100"}
    databases: list[dict[str, str | None]] = [
        {"name": "ecommerce", "pool_mode": None, "pool_size": "25", "max_connections": "100"},
        {"name": "ai", "pool_mode": "session", "pool_size": "200", "max_connections": "0"},
    ]
    result = audit_config(config, databases, PgBouncerExpected())[-1]
    assert result.id == "pgbouncer.config.databases" and result.status == "fail"
    assert (
        result.observed
        == "ai: pool_mode=session; ai: default_pool_size=200; ai: max_db_connections=0"
    )


def test_expected_values_from_settings_section():
    from pytest_prodcheck.config import load_settings

    settings = load_settings(None, {"pgbouncer.default_pool_size": 30}, env={})
    expected = PgBouncerExpected.from_settings(settings.pgbouncer)
    assert expected.default_pool_size == 30 and expected.pool_mode == "transaction"
    assert PgBouncerExpected.from_settings(None) == PgBouncerExpected()


# --- prepared statements ------------------------------------------------------------------------


def test_prepared_statements_flagged_on_pgbouncer_118_in_transaction_mode(good):
    with AdminConsole(good.admin_dsn) as console:
        version, config = console.version(), console.config()
    assert parse_version(version) == (1, 18, 0)
    result = check_prepared_statements(version, config)
    assert result.status == "fail"
    assert "1.18.0 < 1.21" in result.observed
    assert (
        "prepare_threshold=None" in result.message and "max_prepared_statements" in result.message
    )
    assert "declare it: [pgbouncer] prepared_statements_disabled = true" in result.message
    accepted = check_prepared_statements(
        version, config, prepares_disabled_by({APP_PREPARES_EXTRA: "disabled"}, False)
    )
    assert accepted.status == "pass"
    assert "declared by the target (extras app_prepared_statements=disabled)" in accepted.observed


def test_who_declares_prepares_disabled():
    assert prepares_disabled_by({}, False) == ""
    assert prepares_disabled_by({APP_PREPARES_EXTRA: "enabled"}, False) == ""
    assert prepares_disabled_by({}, True) == "[pgbouncer] prepared_statements_disabled = true"
    assert prepares_disabled_by({APP_PREPARES_EXTRA: " Disabled "}, False).startswith("the target")


def test_prepared_statements_not_applicable_in_session_mode(bouncer):
    b = bouncer(pool_mode="session")
    with AdminConsole(b.admin_dsn) as console:
        result = check_prepared_statements(console.version(), console.config())
    assert result.status == "n/a"


@pytest.mark.parametrize(
    ("version", "mps", "status"),
    [
        ("PgBouncer 1.21.0", "100", "pass"),
        ("PgBouncer 1.23.1", "0", "fail"),
        ("PgBouncer 1.22.0", None, "fail"),
        ("PgBouncer 1.20.1", "100", "fail"),
    ],
)
def test_prepared_statements_version_logic(version, mps, status):
    config = {"pool_mode": "transaction"} | ({"max_prepared_statements": mps} if mps else {})
    assert check_prepared_statements(version, config).status == status


def test_the_risk_is_real_psycopg_prepares_break_under_transaction_pooling(good):
    """What the check warns about: psycopg's default prepare_threshold through PgBouncer 1.18."""
    import threading

    import psycopg

    errors: list[str] = []

    def worker() -> None:
        with psycopg.connect(good.dsn(), autocommit=True) as conn:  # default prepare_threshold=5
            for i in range(12):
                try:
                    conn.execute("SELECT %s::int + 1, pg_sleep(0.001)", [i]).fetchone()
                except psycopg.Error as exc:
                    errors.append(str(exc))

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert any("prepared statement" in e for e in errors), errors


# --- monitoring tables --------------------------------------------------------------------------


def test_monitoring_snapshot_summarises_the_four_views(good):
    import psycopg

    with psycopg.connect(good.dsn("ai"), autocommit=True, prepare_threshold=None) as app:
        app.execute("SELECT 1")
        with AdminConsole(good.admin_dsn) as console:
            snap = monitoring_snapshot(console)
    assert list(snap) == [f"SHOW {v}" for v in MONITORING_VIEWS]
    assert "ai: total_xact_count=" in snap["SHOW STATS"]
    assert "ai/app: cl_active=1 cl_waiting=0" in snap["SHOW POOLS"]
    assert "pool_mode=transaction" in snap["SHOW POOLS"]
    assert "pgbouncer" not in snap["SHOW POOLS"]  # our own admin connection is left out
    assert snap["SHOW CLIENTS"].startswith("1 connections (ai/app: active=1)")
    assert "ai/app: idle=1" in snap["SHOW SERVERS"] or "ai/app: used=1" in snap["SHOW SERVERS"]
