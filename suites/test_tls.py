"""TLS and certificates: the guide's "SSL/TLS Configuration" and "SSL/TLS Best Practices".

    $ pytest suites/test_tls.py -m smoke
    $ pytest -m tls --prodcheck-url https://shop.example.com

One test per row of :data:`~pytest_prodcheck.probes.site_checks.SITE_CHECKS` marked ``tls``
(``test_check[tls.protocols]`` …), with that row's markers and checklist items. One sslyze scan
and one handshake per configured name are shared by the whole module; each test judges one
check and records its observed value and expectation as evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_prodcheck.probes.site_checks import SITE_CHECKS, SiteCheck, SiteInputs

if TYPE_CHECKING:
    from suites.conftest import Judge

pytestmark = [pytest.mark.tls]

CHECKS = SITE_CHECKS.marked("tls")


def test_check(check: SiteCheck, inputs: SiteInputs, judge: Judge) -> None:
    judge(check.run(inputs))
