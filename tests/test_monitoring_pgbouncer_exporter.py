"""The PgBouncer exporter against a real PgBouncer: pools and stats exposed, ``up 0`` when down."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from pytest_prodcheck.core.pgbouncer_admin import Table
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.monitoring.pgbouncer_exporter import render, scrape
from pytest_prodcheck.stack.pgbouncer import PgBouncerServer
from pytest_prodcheck.stack.postgres import PostgresServer


@pytest.fixture(scope="module")
def pgbouncer() -> Iterator[PgBouncerServer]:
    work = make_tempdir("test-pgbexp-")
    (work / "pg").mkdir()
    pg = PostgresServer(work / "pg", migrate=False).start()
    pgb = PgBouncerServer(work / "pgb", pg).start()
    yield pgb
    pgb.stop()
    pg.stop()
    remove_tempdir(work)


def test_scrape_exposes_pools_and_stats(pgbouncer: PgBouncerServer) -> None:
    with psycopg.connect(pgbouncer.dsn("ecommerce"), prepare_threshold=None) as conn:
        conn.execute("select 1")
        text = scrape(pgbouncer.stats_dsn)
    assert "pgbouncer_up 1" in text
    assert 'pgbouncer_pools_client_active_connections{database="ecommerce",user="app"} 1' in text
    assert 'pgbouncer_stats_queries_total{database="ecommerce"}' in text
    assert pgbouncer.stats_password not in text


def test_unreachable_pgbouncer_is_up_zero() -> None:
    text = scrape(f"postgresql://pgb_stats:x@127.0.0.1:{free_port()}/pgbouncer")
    assert "pgbouncer_up 0" in text


def test_render_skips_the_admin_database_and_reports_waiting_clients() -> None:
    pools = Table(
        (
            "database",
            "user",
            "cl_active",
            "cl_waiting",
            "sv_active",
            "sv_idle",
            "sv_used",
            "maxwait",
            "maxwait_us",
        ),
        (
            ("pgbouncer", "pgbouncer", "1", "0", "0", "0", "0", "0", "0"),
            ("ecommerce", "app", "25", "7", "25", "0", "0", "2", "500000"),
        ),
    )
    text = render(pools, Table(("database",), ()))
    assert 'database="pgbouncer"' not in text
    assert 'pgbouncer_pools_client_waiting_connections{database="ecommerce",user="app"} 7' in text
    assert 'pgbouncer_pools_client_maxwait_seconds{database="ecommerce",user="app"} 2.5' in text
