"""Validate monitoring alerts end to end: the real shop, through a real PgBouncer, loses its
database; its 5xx rate fires ``ShopHighErrorRate`` in Prometheus, and Alertmanager delivers it to
the webhook receiver. Then the database comes back and the alert resolves.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.monitoring.server import MonitoringOptions, MonitoringStack, missing_binaries
from pytest_prodcheck.monitoring.webhook import received_alerts
from pytest_prodcheck.shop.process import ShopServer
from pytest_prodcheck.stack.pgbouncer import PgBouncerServer
from pytest_prodcheck.stack.postgres import PostgresServer

pytestmark = pytest.mark.skipif(
    bool(missing_binaries()), reason=f"monitoring binaries missing: {missing_binaries()}"
)


@pytest.fixture(scope="module")
def shop_stack() -> Iterator[tuple[PgBouncerServer, ShopServer, MonitoringStack]]:
    pg = PostgresServer(make_tempdir("alert-pg-")).start()
    pgb = PgBouncerServer(make_tempdir("alert-pgb-"), pg).start()
    shop = ShopServer(pgb.dsn("ecommerce"), pgb.dsn("ai")).start()
    mon = MonitoringStack(
        make_tempdir("alert-mon-"), MonitoringOptions(shop_target=f"{shop.host}:{shop.port}")
    ).start()
    try:
        yield pgb, shop, mon
    finally:
        mon.stop()
        shop.stop()
        pgb.stop()
        pg.destroy()


def _traffic(url: str, stop: threading.Event) -> None:
    session = requests.Session()
    session.trust_env = False
    while not stop.is_set():
        with contextlib.suppress(requests.RequestException):
            session.get(f"{url}/api/products?page_size=5", timeout=2)
        time.sleep(0.05)


def _alerts(mon: MonitoringStack, name: str, status: str) -> list[dict[str, object]]:
    return [
        a
        for a in received_alerts(mon.alerts_file)
        if a["labels"]["alertname"] == name and a["status"] == status  # type: ignore[index]
    ]


def _wait_for(mon: MonitoringStack, name: str, status: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _alerts(mon, name, status):
        assert time.monotonic() < deadline, f"{name} never became {status}"
        time.sleep(0.5)


def test_database_outage_fires_shop_error_rate_alert_and_it_resolves(
    shop_stack: tuple[PgBouncerServer, ShopServer, MonitoringStack],
) -> None:
    pgb, shop, mon = shop_stack
    stop = threading.Event()
    worker = threading.Thread(target=_traffic, args=(shop.url, stop), daemon=True)
    worker.start()
    try:
        time.sleep(3)  # healthy traffic first: no error-rate alert
        assert not _alerts(mon, "ShopHighErrorRate", "firing")
        pgb.admin("DISABLE ecommerce")  # new logins refused ...
        pgb.admin("KILL ecommerce")  # ... and every pooled connection cut: the shop answers 503
        assert requests.get(f"{shop.url}/api/products", timeout=5).status_code == 503
        _wait_for(mon, "ShopHighErrorRate", "firing", timeout=40)
        pgb.admin("RESUME ecommerce")
        pgb.admin("ENABLE ecommerce")
        _wait_for(mon, "ShopHighErrorRate", "resolved", timeout=60)
    finally:
        stop.set()
        worker.join(5)
