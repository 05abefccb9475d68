"""Monitoring: metrics exposed and scraped, alert rules loaded, alerts delivered, dashboards,
uptime and error tracking. Each check skips naming the missing key when it is not configured.

    $ pytest suites/test_monitoring.py -m smoke

One test per row of :data:`~pytest_prodcheck.probes.monitoring_checks.MONITORING_CHECKS`
(``test_check[monitoring.uptime]`` …), with that row's markers and checklist items. That a real
condition fires its alert is shown by tests/test_monitoring_alerts.py, which takes the shop's
database away; the suite does not break the shared stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_prodcheck.config import Settings
from pytest_prodcheck.probes.monitoring_checks import (
    MONITORING_CHECKS,
    MonitoringCheck,
    MonitoringInputs,
)
from pytest_prodcheck.stack.endpoints import Endpoints

if TYPE_CHECKING:
    from suites.conftest import Judge

pytestmark = [pytest.mark.monitoring]

CHECKS = MONITORING_CHECKS


@pytest.fixture(scope="module")
def monitoring(prodcheck_stack: Endpoints, prodcheck_settings: Settings) -> MonitoringInputs:
    return MonitoringInputs(prodcheck_stack, prodcheck_settings)


def test_check(check: MonitoringCheck, monitoring: MonitoringInputs, judge: Judge) -> None:
    judge(check.run(monitoring))
