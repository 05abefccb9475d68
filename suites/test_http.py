"""HTTP hardening: redirects, security headers, gzip, caching, keep-alive, limits, banner.

    $ pytest suites/test_http.py -m smoke
    $ pytest -m http --prodcheck-url https://shop.example.com --prodcheck-http-url http://shop.example.com

One test per row of :data:`~pytest_prodcheck.probes.site_checks.SITE_CHECKS` marked ``http``
(``test_check[http.gzip]`` …), with that row's markers and checklist items. The pages (``/``,
the API path, a static file, an error page) are fetched once per module.

The rate-limit probe (group ``burst``, run last) cannot poison other tests: on a loopback target
it sends from a fresh 127.x.y.z of its own (never the address other tests share); against a
remote site, where it shares the runner's address, it waits after its bursts until the buckets
it filled have drained (~2 s with the guide's rates), so the next test from that address, in
any order, starts with a full bucket. It is not ``smoke``: it sends a burst of up to 10 × the
rate to the site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_prodcheck.probes.site_checks import SITE_CHECKS, SiteCheck, SiteInputs

if TYPE_CHECKING:
    from suites.conftest import Judge

pytestmark = [pytest.mark.http]

# the burst last all the same; it leaves the buckets it filled drained (see above)
CHECKS = sorted(SITE_CHECKS.marked("http"), key=lambda c: c.group == "burst")


def test_check(check: SiteCheck, inputs: SiteInputs, judge: Judge) -> None:
    judge(check.run(inputs))
