"""Security: HTTPS only, CORS, cookies, monitoring exposure, admin ports, WAF, secrets file, host.

    $ pytest suites/test_security.py -m smoke

One test per row of :data:`~pytest_prodcheck.probes.security_checks.SECURITY_CHECKS`
(``test_check[security.cors]`` …), with that row's markers and checklist items. Rows reading the
web site get the suite's ``site`` (one setup error when it does not answer). Host-level items
(firewall, fail2ban, log rotation, encryption at rest, VPN, accounts) are checked only with
``--prodcheck-host-checks`` (run the suite on the server itself); otherwise they skip and are
manual checklist items decided by an attestation. A WAF is probed only when declared
(``[security] waf = true``); otherwise its ``n/a`` is recorded and the test skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_prodcheck.config import Settings
from pytest_prodcheck.probes.security_checks import (
    NA_SKIPS,
    SECURITY_CHECKS,
    SITE_GROUPS,
    SecurityCheck,
    SecurityInputs,
)
from pytest_prodcheck.stack.endpoints import Endpoints

if TYPE_CHECKING:
    from suites.conftest import Judge

pytestmark = [pytest.mark.security]

CHECKS = SECURITY_CHECKS


@pytest.fixture
def security(
    check: SecurityCheck,
    request: pytest.FixtureRequest,
    prodcheck_stack: Endpoints,
    prodcheck_settings: Settings,
) -> SecurityInputs:
    site = request.getfixturevalue("site") if check.group in SITE_GROUPS else None
    return SecurityInputs(prodcheck_stack, prodcheck_settings, site)


def test_check(check: SecurityCheck, security: SecurityInputs, judge: Judge) -> None:
    result = check.run(security)
    if result.status == "n/a" and check.group in NA_SKIPS:
        judge.evidence.check(result)
        pytest.skip(result.message)
    judge(result)
