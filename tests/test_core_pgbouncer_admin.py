"""core/pgbouncer_admin.py against a real PgBouncer: SHOW tables, DSN forms, one-line errors."""

from __future__ import annotations

import psycopg
import pytest

from pytest_prodcheck.core.dsn import Dsn
from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable
from pytest_prodcheck.core.pgbouncer_admin import AdminConsole, Table
from pytest_prodcheck.core.ports import free_port


@pytest.fixture(scope="module")
def good(bouncer):
    return bouncer()


def test_monitoring_views_have_the_guides_columns(good):
    with psycopg.connect(good.dsn(), autocommit=True, prepare_threshold=None) as app:
        app.execute("SELECT 1")
        with AdminConsole(good.admin_dsn) as console:
            stats, pools = console.show("STATS"), console.show("POOLS")
            clients, servers = console.show("CLIENTS"), console.show("SERVERS")
    assert {"database", "total_xact_count", "avg_query_time"} <= set(stats.columns)
    assert {"database", "user", "cl_active", "sv_idle", "pool_mode"} <= set(pools.columns)
    assert any(r["database"] == "ecommerce" and r["user"] == "app" for r in clients.dicts())
    assert any(r["database"] == "ecommerce" for r in servers.dicts())
    text = pools.render()
    assert text.splitlines()[0].startswith("database") and text.endswith("rows)")


def test_table_render_aligns_and_right_justifies_numbers():
    t = Table(("name", "n"), (("ecommerce", "3"), ("ai", "12")))
    assert t.render().splitlines() == [
        "name      | n",
        "----------+---",
        "ecommerce |  3",
        "ai        | 12",
        "(2 rows)",
    ]


# --- bad input ----------------------------------------------------------------------------------


def test_wrong_admin_password_is_a_config_error_without_the_password(good):
    bad = good.admin_dsn.replace(good.admin_password, "Wr0ngPassw0rd!")
    with pytest.raises(ConfigError) as exc:
        AdminConsole(bad).__enter__()
    assert "Wr0ngPassw0rd!" not in str(exc.value) and "***" in str(exc.value)


def test_unreachable_admin_console_is_target_unreachable():
    dsn = f"postgresql://pgb_admin:pw12345@127.0.0.1:{free_port()}/pgbouncer"
    with pytest.raises(TargetUnreachable, match="unreachable") as exc:
        AdminConsole(dsn, connect_timeout=2).__enter__()
    assert "pw12345" not in str(exc.value)


def test_admin_dsn_pointing_at_an_app_database_says_so(good):
    with (
        pytest.raises(ConfigError, match="not a PgBouncer admin console"),
        AdminConsole(good.dsn()) as console,
    ):
        console.show("POOLS")


def test_every_dsn_form_reaches_the_console(good):
    d = Dsn.parse(good.admin_dsn)
    kv = f"host={d.host} port={d.port} dbname=pgbouncer user={d.user} password='{d.password}'"
    for dsn in (good.admin_dsn, kv, d):
        with AdminConsole(dsn) as console:
            assert console.version().startswith("PgBouncer")
            assert console.config()["pool_mode"] == "transaction"
            assert all(r.get("name") != "pgbouncer" for r in console.databases())


@pytest.mark.parametrize(
    "dsn",
    [
        "garbage",
        "postgresql://pgb_admin:S3cretPw99@127.0.0.1:notaport/pgbouncer",
        "host=127.0.0.1 port=6432 password='S3cretPw99 x",
        "host=127.0.0.1 password=S3cretPw99 nope=1",
    ],
)
def test_malformed_admin_dsn_is_one_masked_line(dsn):
    with pytest.raises(ConfigError, match="is malformed") as exc:
        AdminConsole(dsn).__enter__()
    assert "S3cretPw99" not in str(exc.value) and "\n" not in str(exc.value)


def test_show_refuses_what_is_not_a_command(good):
    with (
        AdminConsole(good.admin_dsn) as console,
        pytest.raises(ConfigError, match="not a PgBouncer SHOW"),
    ):
        console.show("POOLS; SHUTDOWN")
