"""Monitoring: metrics exposed and scraped, alert rules loaded, alerts delivered, dashboards,
uptime and error tracking. Each check skips naming the missing key when it is not configured.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from pytest_prodcheck.config import Settings
from pytest_prodcheck.monitoring.rules import RULE_NAMES
from pytest_prodcheck.probes import monitoring as mon
from pytest_prodcheck.stack.endpoints import Endpoints

if TYPE_CHECKING:
    from suites.conftest import Judge

pytestmark = [pytest.mark.monitoring]


def _url(stack: Endpoints, settings: Settings, name: str) -> str:
    """``[monitoring] <name>``, else what the stack provides; skips naming the key if neither."""
    m = settings.monitoring
    configured = {
        "metrics_url": m.metrics_url or stack.metrics_url,
        "prometheus_url": m.prometheus_url or stack.prometheus_url,
        "alertmanager_url": m.alertmanager_url or stack.alertmanager_url,
        "grafana_url": m.grafana_url,
        "uptime_url": m.uptime_url or stack.uptime_url,
        "sentry_dsn": m.sentry_dsn,
    }
    value = configured[name]
    if not value:
        pytest.skip(f"{name} is not configured: set [monitoring] {name} in prodcheck.toml")
    return value


@pytest.mark.smoke
@pytest.mark.checklist("monitoring.prometheus")
def test_app_exposes_metrics(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, judge: Judge
) -> None:
    url = _url(prodcheck_stack, prodcheck_settings, "metrics_url")
    judge(mon.check_app_metrics(url, verify=prodcheck_stack.ca_bundle or True))


@pytest.mark.checklist("monitoring.prometheus")
def test_prometheus_scrapes_app_nginx_pgbouncer(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, judge: Judge
) -> None:
    url = _url(prodcheck_stack, prodcheck_settings, "prometheus_url")
    # Another deployment names its app job freely; nginx and PgBouncer are recognisable by name.
    jobs = (
        ("shop", "nginx", "pgbouncer")
        if prodcheck_stack.target == "local"
        else ("nginx", "pgbouncer")
    )
    judge(mon.check_targets_up(url, jobs))


@pytest.mark.checklist("monitoring.alert-rules", "predeploy.monitoring-alerts")
def test_alert_rules_loaded_and_healthy(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, judge: Judge
) -> None:
    url = _url(prodcheck_stack, prodcheck_settings, "prometheus_url")
    required = RULE_NAMES if prodcheck_stack.target == "local" else ()
    judge(mon.check_alert_rules(url, required))


@pytest.mark.checklist("monitoring.notification-channels", "predeploy.monitoring-alerts")
def test_alertmanager_has_a_receiver(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, judge: Judge
) -> None:
    url = _url(prodcheck_stack, prodcheck_settings, "alertmanager_url")
    judge(mon.check_alertmanager_receivers(url))


@pytest.mark.checklist("testing.monitoring-alerts")
def test_alerts_are_delivered(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, judge: Judge
) -> None:
    """The always-firing Watchdog alert is active in Alertmanager and Alertmanager has delivered
    notifications to a receiver: Prometheus → Alertmanager → receiver works. (That a real
    condition fires its alert is shown by tests/test_monitoring_alerts.py, which takes the
    shop's database away; the suite does not break the shared stack.)"""
    url = _url(prodcheck_stack, prodcheck_settings, "alertmanager_url")
    judge(mon.check_alert_delivery(url))


@pytest.mark.checklist("monitoring.grafana-dashboards")
def test_grafana_has_dashboards(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, judge: Judge
) -> None:
    url = _url(prodcheck_stack, prodcheck_settings, "grafana_url")
    # a viewer service-account token: [monitoring] grafana_token, else $GRAFANA_TOKEN
    token = prodcheck_settings.monitoring.grafana_token or os.environ.get("GRAFANA_TOKEN")
    judge(mon.check_grafana(url, token))


@pytest.mark.checklist("monitoring.uptime")
def test_uptime_url_answers(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, judge: Judge
) -> None:
    url = _url(prodcheck_stack, prodcheck_settings, "uptime_url")
    judge(mon.check_uptime_url(url))


@pytest.mark.checklist("monitoring.error-tracking")
def test_error_tracking_dsn(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, judge: Judge
) -> None:
    dsn = _url(prodcheck_stack, prodcheck_settings, "sentry_dsn")
    judge(mon.check_sentry_dsn(dsn))
