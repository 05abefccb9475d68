"""Monitoring: metrics exposed and scraped, alert rules loaded, alerts delivered, dashboards,
uptime and error tracking. Each check skips naming the missing key when it is not configured.
"""

from __future__ import annotations

import os

import pytest

from pytest_prodcheck.config import Settings
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.evidence import EvidenceRecorder
from pytest_prodcheck.monitoring.rules import RULE_NAMES
from pytest_prodcheck.probes import monitoring as mon
from pytest_prodcheck.stack.endpoints import Endpoints

pytestmark = [pytest.mark.monitoring]


def _url(stack: Endpoints, settings: Settings, name: str) -> str:
    value = getattr(settings.monitoring, name, None) or getattr(stack, name, None)
    if not value:
        pytest.skip(f"{name} is not configured: set [monitoring] {name} in prodcheck.toml")
    return str(value)


def _assert(result: CheckResult) -> None:
    assert result.ok, result.message or result.observed


@pytest.mark.smoke
@pytest.mark.checklist("monitoring.prometheus")
def test_app_exposes_metrics(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, prodcheck_evidence: EvidenceRecorder
) -> None:
    url = _url(prodcheck_stack, prodcheck_settings, "metrics_url")
    _assert(
        prodcheck_evidence.check(
            mon.check_app_metrics(url, verify=prodcheck_stack.ca_bundle or True)
        )
    )


@pytest.mark.checklist("monitoring.prometheus")
def test_prometheus_scrapes_app_nginx_pgbouncer(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, prodcheck_evidence: EvidenceRecorder
) -> None:
    url = _url(prodcheck_stack, prodcheck_settings, "prometheus_url")
    # Another deployment names its app job freely; nginx and PgBouncer are recognisable by name.
    jobs = (
        ("shop", "nginx", "pgbouncer")
        if prodcheck_stack.target == "local"
        else ("nginx", "pgbouncer")
    )
    _assert(prodcheck_evidence.check(mon.check_targets_up(url, jobs)))


@pytest.mark.checklist("monitoring.alert-rules", "predeploy.monitoring-alerts")
def test_alert_rules_loaded_and_healthy(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, prodcheck_evidence: EvidenceRecorder
) -> None:
    url = _url(prodcheck_stack, prodcheck_settings, "prometheus_url")
    required = RULE_NAMES if prodcheck_stack.target == "local" else ()
    _assert(prodcheck_evidence.check(mon.check_alert_rules(url, required)))


@pytest.mark.checklist("monitoring.notification-channels", "predeploy.monitoring-alerts")
def test_alertmanager_has_a_receiver(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, prodcheck_evidence: EvidenceRecorder
) -> None:
    url = _url(prodcheck_stack, prodcheck_settings, "alertmanager_url")
    _assert(prodcheck_evidence.check(mon.check_alertmanager_receivers(url)))


@pytest.mark.checklist("testing.monitoring-alerts")
def test_alerts_are_delivered(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, prodcheck_evidence: EvidenceRecorder
) -> None:
    """The always-firing Watchdog alert is active in Alertmanager and Alertmanager has delivered
    notifications to a receiver: Prometheus → Alertmanager → receiver works. (That a real
    condition fires its alert is shown by tests/test_monitoring_alerts.py, which takes the
    shop's database away; the suite does not break the shared stack.)"""
    url = _url(prodcheck_stack, prodcheck_settings, "alertmanager_url")
    _assert(prodcheck_evidence.check(mon.check_alert_delivery(url)))


@pytest.mark.checklist("monitoring.grafana-dashboards")
def test_grafana_has_dashboards(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, prodcheck_evidence: EvidenceRecorder
) -> None:
    url = _url(prodcheck_stack, prodcheck_settings, "grafana_url")
    # a viewer service-account token: [monitoring] grafana_token, else $GRAFANA_TOKEN
    token = prodcheck_settings.monitoring.grafana_token or os.environ.get("GRAFANA_TOKEN")
    _assert(prodcheck_evidence.check(mon.check_grafana(url, token)))


@pytest.mark.checklist("monitoring.uptime")
def test_uptime_url_answers(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, prodcheck_evidence: EvidenceRecorder
) -> None:
    url = _url(prodcheck_stack, prodcheck_settings, "uptime_url")
    _assert(prodcheck_evidence.check(mon.check_uptime_url(url)))


@pytest.mark.checklist("monitoring.error-tracking")
def test_error_tracking_dsn(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, prodcheck_evidence: EvidenceRecorder
) -> None:
    dsn = _url(prodcheck_stack, prodcheck_settings, "sentry_dsn")
    _assert(prodcheck_evidence.check(mon.check_sentry_dsn(dsn)))
