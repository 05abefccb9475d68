"""probes/pooling_load.py: N clients at once through real PgBouncers, PostgreSQL sampled."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pytest_prodcheck.core.errors import ConfigError, ToolError
from pytest_prodcheck.probes.pooling_load import (
    PoolCapResult,
    check_pool_caps_server,
    ensure_fd_limit,
    plan_clients,
    run_pool_cap,
)


def test_1000_clients_through_the_guides_pgbouncer_never_exceed_the_cap(pg, bouncer):
    b = bouncer()
    result = run_pool_cap(
        [b.dsn("ecommerce"), b.dsn("ai")], sampler_dsn=pg.dsn("ecommerce"), clients=1000
    )
    check = check_pool_caps_server(result, max_db_connections=100)
    assert check.status == "pass", check.message
    assert result.failures == 0 and result.clients == 1000
    assert 0 < result.peak_per_database["ecommerce"] <= 35  # one user: default_pool_size + reserve
    assert result.samples >= 3
    assert "wall" in check.observed and "peak server connections per database" in check.observed


def test_a_pool_too_large_without_max_db_connections_lets_postgres_see_more(pg, bouncer):
    b = bouncer(default_pool_size=150, max_db_connections=0)
    result = run_pool_cap(
        [b.dsn("ecommerce")],
        sampler_dsn=pg.dsn("ecommerce"),
        clients=200,
        queries=2,
        # Each client holds its server connection ~2 s, so PgBouncer must open well over 100
        # even when the box is busy and it opens connections slowly (0.2 s flaked under CI).
        query="SELECT pg_sleep(1.0)",
    )
    check = check_pool_caps_server(result, max_db_connections=100)
    assert check.status == "fail"
    assert result.peak_per_database["ecommerce"] > 100
    assert "more server connections than max_db_connections=100: ecommerce=" in check.message


def test_client_failures_fail_the_check():
    result = PoolCapResult(
        clients=10,
        failures=2,
        peak_per_database={"ecommerce": 5},
        wall_s=1.0,
        connect_p50_s=0.1,
        samples=50,
        queries_per_client=3,
        fd_limit=(1024, 1024),
        failure_examples=("connect: no more connections allowed (max_client_conn)",),
    )
    check = check_pool_caps_server(result, 100)
    assert check.status == "fail" and "2 of 10 clients failed" in check.message
    assert "max_client_conn" in check.message


def test_more_clients_than_max_client_conn_fail(pg, bouncer):
    b = bouncer(max_client_conn=20)
    result = run_pool_cap([b.dsn()], sampler_dsn=pg.dsn("ecommerce"), clients=40, queries=1)
    check = check_pool_caps_server(result, 100)
    assert result.failures >= 20 and check.status == "fail"
    assert "no more connections allowed" in check.message


def test_fd_limit_is_raised_to_the_hard_limit_in_a_child():
    code = (
        "import resource\n"
        "from pytest_prodcheck.probes.pooling_load import ensure_fd_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "print(ensure_fd_limit(1128) == (hard, hard))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_fd_hard_limit_too_low_is_explained():
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        pytest.skip("hard RLIMIT_NOFILE is unlimited here")
    with pytest.raises(ToolError, match=r"hard limit \(RLIMIT_NOFILE\) is .*ulimit -Hn"):
        ensure_fd_limit(hard + 1)


def test_fd_limit_in_a_child_whose_hard_limit_is_too_low_is_explained():
    """A process started with a low hard limit (ulimit -Hn 512) cannot run 1000 clients."""
    code = (
        "import resource\n"
        "from pytest_prodcheck.core.errors import ToolError\n"
        "from pytest_prodcheck.probes.pooling_load import run_pool_cap\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 512))\n"
        "try:\n"
        "    run_pool_cap(['postgresql://app:pw@127.0.0.1:1/db'], 'postgresql://x', clients=1000)\n"
        "except ToolError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "1128 file descriptors are needed" in out.stdout
    assert "only 512 are allowed: the hard limit (RLIMIT_NOFILE) is 512" in out.stdout
    assert "LimitNOFILE=" in out.stdout and "pw" not in out.stdout


def test_bad_arguments_are_config_errors(pg):
    with pytest.raises(ConfigError, match="clients must be >= 1"):
        run_pool_cap(["postgresql://app:x@127.0.0.1:1/ecommerce"], pg.dsn(), clients=0)
    with pytest.raises(ConfigError, match="must name its database and user"):
        run_pool_cap(["postgresql://127.0.0.1:1"], pg.dsn(), clients=1)


def test_the_guides_1000_against_a_cap_of_100_fails_naming_what_was_refused(pg, bouncer):
    """The cap is not a reason to run fewer clients: 1000 are tried and the refusals fail."""
    b = bouncer(max_client_conn=100)
    plan = plan_clients(1000, max_client_conn=100, existing=0)
    assert plan.clients == 1000
    result = run_pool_cap([b.dsn()], sampler_dsn=pg.dsn("ecommerce"), clients=plan.clients)
    check = check_pool_caps_server(result, 100, plan)
    assert check.status == "fail"
    assert result.clients == 1000 and result.refused >= 899  # 100 slots, minus a few racing
    assert f"PgBouncer refused {result.refused} of 1000 clients" in check.message
    assert "max_client_conn = 100 is below the 1000 concurrent clients" in check.message
    assert "set max_client_conn = 1000 in pgbouncer.ini" in check.message
    assert check.expected.startswith("1000 clients at once")
    assert f"({result.refused} refused at max_client_conn)" in check.observed


def test_plan_only_shrinks_for_clients_already_holding_slots_and_says_so():
    assert plan_clients(1000, 1000, 37).clients == 963
    assert "963 clients + 37 already connected = 1000" in plan_clients(1000, 1000, 37).note
    assert plan_clients(1000, 1200, 37).clients == 1000
    assert plan_clients(1000, 100, 37).clients == 1000  # below the target: tried in full
    assert plan_clients(1000, None, 0).clients == 1000
