"""probes/postgres.py against a real PostgreSQL (+ PgBouncer), each check also on a wrong target."""

from __future__ import annotations

import psycopg
import pytest

from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.probes.postgres import (
    LoginTarget,
    check_app_role,
    check_app_via_pgbouncer,
    check_default_passwords,
    check_password_strength,
    check_seq_scans,
    login_target,
)
from pytest_prodcheck.stack.pgbouncer import PgBouncerServer
from pytest_prodcheck.stack.postgres import PostgresServer


@pytest.fixture(scope="module")
def pgb(pg):
    b = PgBouncerServer(make_tempdir("pgb-"), pg).start()
    yield b
    b.stop()


# --- default passwords --------------------------------------------------------------------------


def test_default_passwords_refused_on_the_embedded_stack(pg, pgb):
    targets = [
        login_target("PostgreSQL", pg.dsn("ecommerce")),
        login_target("PgBouncer", pgb.dsn("ecommerce")),
        login_target("PgBouncer admin console", pgb.admin_dsn),
    ]
    result = check_default_passwords(targets)
    assert result.status == "pass", result.message
    assert "default logins refused" in result.observed


def test_postgres_with_password_postgres_fails():
    weak = PostgresServer(make_tempdir("pg-"), superuser_password="postgres").start()
    try:
        result = check_default_passwords([login_target("PostgreSQL", weak.dsn("ecommerce"))])
    finally:
        weak.destroy()
    assert result.status == "fail"
    assert "user 'postgres' accepts a well-known default password (8 chars)" in result.message
    assert "'postgres'" in result.observed and "postgres)" not in result.observed  # password masked


def test_a_role_whose_password_is_its_name_fails(pg):
    pg.create_role("shop_admin", "shop_admin")
    try:
        target = LoginTarget("PostgreSQL", "127.0.0.1", pg.port, "ecommerce", users=("shop_admin",))
        result = check_default_passwords([target])
    finally:
        pg.execute("DROP ROLE shop_admin")
    assert result.status == "fail" and "shop_admin" in result.message


def test_unreachable_server_is_reported():
    with pytest.raises(TargetUnreachable, match="unreachable while testing default passwords"):
        check_default_passwords([LoginTarget("PostgreSQL", "127.0.0.1", free_port(), "postgres")])


# --- password strength --------------------------------------------------------------------------


def test_generated_stack_passwords_are_strong(pg, pgb):
    result = check_password_strength(
        {"[database] dsn": pg.dsn(), "[pgbouncer] admin_dsn": pgb.admin_dsn}
    )
    assert result.status == "pass", result.message


def test_weak_passwords_are_named_without_showing_them():
    result = check_password_strength(
        {
            "[database] dsn": "postgresql://app:app12345678@h:5432/ecommerce",
            "[database] admin_dsn": "postgresql://postgres:password@h:5432/postgres",
            "[pgbouncer] dsn": "postgresql://app:aaaaaaaaaaaaaaa@h:6432/ecommerce",
        }
    )
    assert result.status == "fail"
    assert "[database] dsn (user app): 11 chars < 12, a default or the user name" in result.message
    assert (
        "[database] admin_dsn (user postgres): 8 chars < 12, a default or the user name"
        in result.message
    )
    assert "fewer than 6 distinct characters" in result.message
    assert "app12345678" not in result.message and "aaaaaaaa" not in result.message


def test_malformed_dsn_is_a_config_error():
    with pytest.raises(ConfigError, match="is malformed"):
        check_password_strength({"x": "postgresql://a:b@h:5432/db?bogus=1"})
    bad_port = "postgresql://app:Secr3tPassw0rd@127.0.0.1:pgport/ecommerce"
    for call in (
        lambda: login_target("PgBouncer", bad_port),
        lambda: check_app_via_pgbouncer(bad_port),
    ):
        with pytest.raises(ConfigError, match="numeric port") as exc:
            call()
        assert "Secr3tPassw0rd" not in str(exc.value)


# --- the app role -------------------------------------------------------------------------------


def test_app_role_of_the_stack_is_plain(pg):
    result = check_app_role(pg.dsn("ecommerce"), app_databases=["ecommerce", "ai"])
    assert result.status == "pass", result.message
    assert "owns ai, ecommerce" in result.observed


def test_superuser_app_role_fails(pg):
    pg.create_role("app_su", "Sup3r-Long-Passw0rd", superuser=True)
    try:
        result = check_app_role(pg.dsn("ecommerce", "app_su", "Sup3r-Long-Passw0rd"), ["ecommerce"])
    finally:
        pg.execute("DROP ROLE app_su")
    assert result.status == "fail"
    assert "has SUPERUSER" in result.message and "NOSUPERUSER" in result.message


def test_app_role_with_createrole_and_extra_database_fails(pg):
    pg.create_role("app2", "An0ther-Long-Passw0rd")
    pg.execute("ALTER ROLE app2 CREATEROLE")
    pg.execute("GRANT pg_read_server_files TO app2")
    pg.create_database("reporting", owner="app2")
    try:
        result = check_app_role(pg.dsn("ecommerce", "app2", "An0ther-Long-Passw0rd"), ["ecommerce"])
    finally:
        pg.execute("DROP DATABASE reporting")
        pg.execute("DROP ROLE app2")
    assert result.status == "fail"
    assert "has CREATEROLE" in result.message
    assert "is a member of pg_read_server_files" in result.message
    assert "owns databases it does not serve: reporting" in result.message


# --- app through PgBouncer ----------------------------------------------------------------------


def test_app_dsn_through_pgbouncer_passes(pgb):
    result = check_app_via_pgbouncer(pgb.dsn("ecommerce"), pgb.admin_dsn)
    assert result.status == "pass", result.message
    assert "listed by PgBouncer SHOW CLIENTS" in result.observed
    assert pgb.users["app"] not in result.observed


def test_app_dsn_straight_to_postgres_fails(pg, pgb):
    result = check_app_via_pgbouncer(pg.dsn("ecommerce"), pgb.admin_dsn)
    assert result.status == "fail"
    assert "reaches PostgreSQL directly" in result.message
    assert pg.app_password not in result.observed + result.message


def test_app_dsn_through_another_pooler_fails(pg, pgb):
    other = PgBouncerServer(make_tempdir("pgb-"), pg).start()
    try:
        result = check_app_via_pgbouncer(other.dsn("ecommerce"), pgb.admin_dsn)
    finally:
        other.stop()
    assert result.status == "fail" and "different poolers" in result.message


# --- sequential scans ---------------------------------------------------------------------------


def _workload(pg: PostgresServer, db: str, index: bool) -> None:
    pg.create_database(db)
    with psycopg.connect(pg.dsn(db), autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int, customer int, total numeric)")
        conn.execute("INSERT INTO orders SELECT g, g % 500, g FROM generate_series(1, 20000) g")
        if index:
            conn.execute("CREATE INDEX ON orders (customer)")
            conn.execute("ANALYZE orders")
        for i in range(12):
            conn.execute("SELECT sum(total) FROM orders WHERE customer = %s", [i]).fetchone()


def test_large_table_without_index_is_flagged(pg):
    _workload(pg, "seqscan_bad", index=False)
    result = check_seq_scans([pg.dsn("seqscan_bad")], min_rows=10000)
    assert result.status == "fail"
    assert "seqscan_bad.public.orders (20000 rows: 12 seq scans" in result.message
    assert "add the missing indexes" in result.message


def test_large_table_read_through_an_index_passes(pg):
    _workload(pg, "seqscan_good", index=True)
    result = check_seq_scans([pg.dsn("seqscan_good")], min_rows=10000)
    assert result.status == "pass", result.message
    assert result.observed == "1 large tables, all mostly read through indexes"


def test_small_tables_are_not_judged(pg):
    result = check_seq_scans([pg.dsn("ecommerce")], min_rows=10**9)
    assert result.status == "pass" and "no table with" in result.observed
