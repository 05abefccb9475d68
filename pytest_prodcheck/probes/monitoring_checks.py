"""The table of the monitoring checks: id → callable → group → checklist items.

    >>> from pytest_prodcheck.probes.monitoring_checks import MONITORING_CHECKS, MonitoringInputs
    >>> MONITORING_CHECKS.ids()[:2]
    ('monitoring.app-metrics', 'monitoring.targets-up')
    >>> inputs = MonitoringInputs(endpoints, settings)
    >>> MONITORING_CHECKS.get("monitoring.uptime").run(inputs).status
    'pass'

``suites/test_monitoring.py`` is one test per row (``test_check[monitoring.uptime]`` …), with the
row's markers and checklist items. Groups name the service a check reads: ``app`` (its metrics
endpoint), ``prometheus``, ``alertmanager``, ``grafana``, ``uptime``, ``sentry``. A row whose
service is not configured raises :class:`~pytest_prodcheck.stack.endpoints.MissingEndpoint`
naming the key (the suite skips the test with that line).

That a real condition fires its alert is shown by ``tests/test_monitoring_alerts.py`` (it takes
the shop's database away); the suite does not break the shared stack, so there is no row for it.

Adding a check: write ``check_x`` in :mod:`~pytest_prodcheck.probes.monitoring`, add one row
here, and a test showing it fail on a target wrong in exactly that way.
"""

from __future__ import annotations

import os

from pytest_prodcheck.config import Settings
from pytest_prodcheck.core.checks import CheckSpec, CheckTable
from pytest_prodcheck.monitoring.rules import RULE_NAMES
from pytest_prodcheck.probes import monitoring as mon
from pytest_prodcheck.stack.endpoints import Endpoints, MissingEndpoint

__all__ = ["MONITORING_CHECKS", "MonitoringCheck", "MonitoringInputs"]


class MonitoringInputs:
    """Where the monitoring services are: ``[monitoring]`` settings first, else the stack's."""

    def __init__(self, stack: Endpoints, settings: Settings) -> None:
        self.stack = stack
        self.settings = settings

    def url(self, name: str) -> str:
        """``[monitoring] <name>``, else what the stack provides; MissingEndpoint naming the key."""
        m, s = self.settings.monitoring, self.stack
        configured = {
            "metrics_url": m.metrics_url or s.metrics_url,
            "prometheus_url": m.prometheus_url or s.prometheus_url,
            "alertmanager_url": m.alertmanager_url or s.alertmanager_url,
            "grafana_url": m.grafana_url,
            "uptime_url": m.uptime_url or s.uptime_url,
            "sentry_dsn": m.sentry_dsn,
        }
        value = configured[name]
        if not value:
            raise MissingEndpoint(
                f"{name} is not configured: set [monitoring] {name} in prodcheck.toml"
            )
        return value

    @property
    def verify(self) -> str | bool:
        return self.stack.ca_bundle or True

    @property
    def scrape_jobs(self) -> tuple[str, ...]:
        """Jobs Prometheus must scrape: another deployment names its app job freely; nginx and
        PgBouncer are recognisable by name."""
        local = self.stack.target == "local"
        return ("shop", "nginx", "pgbouncer") if local else ("nginx", "pgbouncer")

    @property
    def required_rules(self) -> tuple[str, ...]:
        """The embedded stack's alert rules by name; elsewhere any healthy rules."""
        return tuple(RULE_NAMES) if self.stack.target == "local" else ()

    @property
    def grafana_token(self) -> str | None:
        """A viewer service-account token: ``[monitoring] grafana_token``, else $GRAFANA_TOKEN."""
        return self.settings.monitoring.grafana_token or os.environ.get("GRAFANA_TOKEN")


MonitoringCheck = CheckSpec[MonitoringInputs]

_MON = ("monitoring",)
_ALERTS = "predeploy.monitoring-alerts"


def _rows() -> list[MonitoringCheck]:
    return [
        CheckSpec("monitoring.app-metrics",
                  lambda i: mon.check_app_metrics(i.url("metrics_url"), verify=i.verify),
                  "app", ("monitoring.prometheus",), ("monitoring", "smoke"),
                  "the app exposes Prometheus metrics"),
        CheckSpec("monitoring.targets-up",
                  lambda i: mon.check_targets_up(i.url("prometheus_url"), i.scrape_jobs),
                  "prometheus", ("monitoring.prometheus",), _MON,
                  "Prometheus scrapes the app, nginx and PgBouncer"),
        CheckSpec("monitoring.alert-rules",
                  lambda i: mon.check_alert_rules(i.url("prometheus_url"), i.required_rules),
                  "prometheus", ("monitoring.alert-rules", _ALERTS), _MON,
                  "alert rules loaded and healthy"),
        CheckSpec("monitoring.notification-channels",
                  lambda i: mon.check_alertmanager_receivers(i.url("alertmanager_url")),
                  "alertmanager", ("monitoring.notification-channels", _ALERTS), _MON,
                  "Alertmanager has a receiver"),
        # the always-firing Watchdog alert is active and Alertmanager has delivered notifications:
        # Prometheus → Alertmanager → receiver works
        CheckSpec("monitoring.alert-delivery",
                  lambda i: mon.check_alert_delivery(i.url("alertmanager_url")),
                  "alertmanager", ("testing.monitoring-alerts",), _MON, "alerts are delivered"),
        CheckSpec("monitoring.grafana-dashboards",
                  lambda i: mon.check_grafana(i.url("grafana_url"), i.grafana_token),
                  "grafana", ("monitoring.grafana-dashboards",), _MON, "Grafana has dashboards"),
        CheckSpec("monitoring.uptime", lambda i: mon.check_uptime_url(i.url("uptime_url")),
                  "uptime", ("monitoring.uptime",), _MON, "the uptime URL answers"),
        CheckSpec("monitoring.error-tracking",
                  lambda i: mon.check_sentry_dsn(i.url("sentry_dsn")),
                  "sentry", ("monitoring.error-tracking",), _MON, "a valid error-tracking DSN"),
    ]  # fmt: skip


MONITORING_CHECKS: CheckTable[MonitoringInputs] = CheckTable("monitoring", _rows())
