"""Monitoring checks against a real Prometheus + Alertmanager (Debian packages), good and wrong.

Grafana and Sentry cannot run on this machine: their checks run against small local HTTP servers
that answer like them (the real HTTP path of the check is exercised).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pytest_prodcheck.core.ports import free_port, wait_port
from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.monitoring.exporter import backup_timestamps, render
from pytest_prodcheck.monitoring.rules import RULE_NAMES, render_rules
from pytest_prodcheck.monitoring.server import MonitoringOptions, MonitoringStack, missing_binaries
from pytest_prodcheck.monitoring.webhook import received_alerts
from pytest_prodcheck.probes import monitoring as mon

pytestmark = pytest.mark.skipif(
    bool(missing_binaries()), reason=f"monitoring binaries missing: {missing_binaries()}"
)

METRICS = (
    "# TYPE shop_http_requests_total counter\n"
    'shop_http_requests_total{method="GET",route="/",status="200"} 3\n'
    'shop_http_request_duration_seconds_bucket{route="/api/products/{id}",le="+Inf"} 3\n'
)


def _serve(handler: Callable[[BaseHTTPRequestHandler], tuple[int, str, str]]) -> str:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            status, ctype, body = handler(self)
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def app_process() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real child process serving /metrics (stands in for the app; killed by one test)."""
    port = free_port()
    code = (
        "import http.server as h\n"
        "class H(h.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        f"        b={METRICS!r}.encode(); self.send_response(200); self.end_headers(); self.wfile.write(b)\n"
        "    def log_message(self,*a): pass\n"
        f"h.HTTPServer(('127.0.0.1',{port}),H).serve_forever()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    wait_port("127.0.0.1", port, 10)
    yield proc, f"127.0.0.1:{port}"
    proc.kill()
    proc.wait()


@pytest.fixture(scope="module")
def good(app_process: tuple[subprocess.Popen[bytes], str]) -> Iterator[MonitoringStack]:
    backups = make_tempdir("mon-backups-")
    (backups / "main_db_20260101_020000.sql.gz").write_bytes(b"x")
    with MonitoringStack(
        make_tempdir("mon-good-"), MonitoringOptions(shop_target=app_process[1], backup_dir=backups)
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def wrong() -> Iterator[MonitoringStack]:
    options = MonitoringOptions(
        shop_target=f"127.0.0.1:{free_port()}", with_rules=False, with_receiver=False
    )
    with MonitoringStack(make_tempdir("mon-wrong-"), options) as stack:
        yield stack


def _eventually(
    check: Callable[[], mon.CheckResult], want: bool, timeout: float = 15
) -> mon.CheckResult:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result.ok == want or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_rules_render_for_production_and_local() -> None:
    prod, local = render_rules(production=True), render_rules(production=False)
    for name in RULE_NAMES:
        assert f"alert: {name}" in prod
    assert "[5m]" in prod and "[15s]" in local and "> 93600" in prod


def test_promtool_accepts_the_shipped_rules(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yml"
    path.write_text(render_rules(production=True))
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_exporter_reports_newest_backup_per_database(tmp_path: Path) -> None:
    (tmp_path / "main_db_20260101_020000.sql.gz").write_bytes(b"x")
    (tmp_path / "ai_db_20260101_020000.sql.gz").write_bytes(b"")  # empty: incomplete, ignored
    (tmp_path / "notes.txt").write_text("not a backup")
    assert set(backup_timestamps(tmp_path)) == {"main"}
    assert 'prodcheck_backup_last_success_timestamp_seconds{database="main"}' in render(
        tmp_path, []
    )


def test_targets_up_passes_on_good_and_fails_with_a_target_down(
    good: MonitoringStack, wrong: MonitoringStack
) -> None:
    ok = _eventually(lambda: mon.check_targets_up(good.prometheus_url, ("shop", "prodcheck")), True)
    assert ok.status == "pass", ok
    bad = _eventually(lambda: mon.check_targets_up(wrong.prometheus_url, ("shop",)), False)
    assert bad.status == "fail" and "shop" in bad.message
    missing = mon.check_targets_up(good.prometheus_url, ("nginx",), settle=1)
    assert missing.status == "fail" and "not scraped: nginx" in missing.message


def test_alert_rules_pass_when_loaded_and_fail_when_none(
    good: MonitoringStack, wrong: MonitoringStack
) -> None:
    assert mon.check_alert_rules(good.prometheus_url, RULE_NAMES).status == "pass"
    bad = mon.check_alert_rules(wrong.prometheus_url)
    assert bad.status == "fail" and "no alerting rules" in bad.message


def test_receivers_pass_with_webhook_and_fail_when_empty(
    good: MonitoringStack, wrong: MonitoringStack
) -> None:
    assert mon.check_alertmanager_receivers(good.alertmanager_url).status == "pass"
    bad = mon.check_alertmanager_receivers(wrong.alertmanager_url)
    assert bad.status == "fail" and "reach nobody" in bad.message


def test_watchdog_is_delivered_end_to_end(good: MonitoringStack, wrong: MonitoringStack) -> None:
    assert mon.check_alert_delivery(good.alertmanager_url).status == "pass"
    deadline = time.monotonic() + 15
    while "Watchdog" not in {a["labels"]["alertname"] for a in received_alerts(good.alerts_file)}:
        assert time.monotonic() < deadline, "Watchdog never reached the webhook receiver"
        time.sleep(0.3)
    no_rules = mon.check_alert_delivery(wrong.alertmanager_url, timeout=2)
    assert no_rules.status == "fail" and "Watchdog is not active" in no_rules.message


def test_watchdog_routed_to_a_receiver_without_integration_is_not_delivered(
    app_process: tuple[subprocess.Popen[bytes], str],
) -> None:
    """Rules loaded, Watchdog firing, but Alertmanager's receiver notifies nobody."""
    options = MonitoringOptions(shop_target=app_process[1], with_receiver=False)
    with MonitoringStack(make_tempdir("mon-silent-"), options) as silent:
        result = mon.check_alert_delivery(silent.alertmanager_url, timeout=8)
    assert result.status == "fail" and "delivered no notification" in result.message
    assert "Watchdog;" in result.observed and "sent 0" in result.observed


def test_killing_the_app_fires_target_down(
    good: MonitoringStack, app_process: tuple[subprocess.Popen[bytes], str]
) -> None:
    proc, _ = app_process
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 20
    while True:
        fired = [
            a
            for a in received_alerts(good.alerts_file)
            if a["labels"]["alertname"] == "TargetDown" and a["labels"].get("job") == "shop"
        ]
        if fired:
            break
        assert time.monotonic() < deadline, "TargetDown did not fire after the app was killed"
        time.sleep(0.3)
    assert fired[0]["status"] == "firing"


def test_unreachable_prometheus_is_an_error_not_a_crash() -> None:
    result = mon.check_targets_up(f"http://127.0.0.1:{free_port()}")
    assert result.status == "error" and "Prometheus did not answer" in result.message


def test_app_metrics() -> None:
    good = _serve(lambda h: (200, "text/plain", METRICS))
    html = _serve(lambda h: (200, "text/html", "<html>hello</html>"))
    assert mon.check_app_metrics(f"{good}/metrics").status == "pass"
    assert mon.check_app_metrics(f"{html}/metrics").status == "fail"


def test_grafana_dashboards() -> None:
    def grafana(dashboards: list[dict[str, str]]) -> str:
        def answer(h: BaseHTTPRequestHandler) -> tuple[int, str, str]:
            if h.path.startswith("/api/health"):
                return 200, "application/json", json.dumps({"database": "ok"})
            return 200, "application/json", json.dumps(dashboards)

        return _serve(answer)

    assert mon.check_grafana(grafana([{"title": "Shop"}]), token="t").status == "pass"
    empty = mon.check_grafana(grafana([]))
    assert empty.status == "fail" and "no dashboards" in empty.message


def test_uptime_url() -> None:
    assert mon.check_uptime_url(_serve(lambda h: (200, "text/plain", "ok"))).status == "pass"
    assert mon.check_uptime_url(_serve(lambda h: (503, "text/plain", "down"))).status == "fail"


def test_sentry_dsn() -> None:
    ingest = _serve(lambda h: (401, "application/json", '{"detail":"missing auth"}'))
    host = ingest.split("://", 1)[1]
    assert (
        mon.check_sentry_dsn(f"http://0123456789abcdef0123456789abcdef@{host}/42").status == "pass"
    )
    assert mon.check_sentry_dsn("not-a-dsn").status == "fail"
    nothing = _serve(lambda h: (404, "text/plain", "no"))
    assert (
        mon.check_sentry_dsn(
            f"http://0123456789abcdef0123456789abcdef@{nothing.split('://', 1)[1]}/42"
        ).status
        == "fail"
    )


def test_alert_rules_must_cover_every_kind_the_item_names() -> None:
    """A lone Watchdog (or only an error-rate rule) is not an alerting setup: the missing kinds
    are named. The API answer has Prometheus's /api/v1/rules shape."""

    def rules(*pairs: tuple[str, str]) -> str:
        body = {
            "status": "success",
            "data": {
                "groups": [
                    {
                        "name": "g",
                        "rules": [
                            {"type": "alerting", "name": n, "query": q, "health": "ok"}
                            for n, q in pairs
                        ],
                    }
                ]
            },
        }
        return _serve(lambda h: (200, "application/json", json.dumps(body)))

    lone = mon.check_alert_rules(
        rules(("Watchdog", "vector(1)"), ("HighErrors", 'rate(x{code=~"5.."}[5m]) > 1'))
    )
    assert lone.status == "fail"
    assert lone.message == (
        "no alert for: latency, backup age, certificate expiry, pool saturation"
    )
    full = rules(
        ("HighErrors", 'rate(http_requests_total{code=~"5.."}[5m]) > 1'),
        ("SlowP95", "histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m])) > 1"),
        ("BackupStale", "time() - backup_last_success_timestamp_seconds > 93600"),
        ("CertExpiry", "probe_ssl_earliest_cert_expiry - time() < 86400 * 20"),
        ("PoolFull", "pgbouncer_pools_client_waiting_connections > 0"),
    )
    assert mon.check_alert_rules(full).status == "pass"
