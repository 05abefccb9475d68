"""HTTP hardening: redirects, security headers, gzip, caching, keep-alive, limits, banner.

    $ pytest suites/test_http.py -m smoke
    $ pytest -m http --prodcheck-url https://shop.example.com --prodcheck-http-url http://shop.example.com

The pages (``/``, the API path, a static file, an error page) are fetched once per module.

The rate-limit probe cannot poison other tests: on a loopback target it sends from a fresh
127.x.y.z of its own (never the address other tests share); against a remote site, where it shares
the runner's address, it waits after its bursts until the buckets it filled have drained (~2 s
with the guide's rates), so the next test from that address, in any order, starts with a full
bucket. It is not ``smoke``: it sends a burst of up to 10 × the rate to the site.
"""

from __future__ import annotations

import pytest

from pytest_prodcheck.core.errors import ProdcheckError
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes import http, tls

pytestmark = [pytest.mark.http]


@pytest.fixture(scope="module")
def site(prodcheck_stack, prodcheck_settings) -> tls.SiteTarget:
    return tls.SiteTarget.from_endpoints(prodcheck_stack, prodcheck_settings)


@pytest.fixture(scope="module")
def pages(site: tls.SiteTarget) -> http.PageSet:
    try:
        return http.fetch_pages(site)
    except ProdcheckError as exc:
        pytest.fail(f"prodcheck: {exc}", pytrace=False)


def _judge(evidence, result: CheckResult) -> None:
    result = evidence.check(result)
    assert result.ok, f"{result.id}: {result.message} (observed: {result.observed})"


@pytest.mark.smoke
@pytest.mark.checklist("security.https-only")
def test_https_redirect(site, prodcheck_evidence):
    _judge(prodcheck_evidence, http.check_https_redirect(site))


@pytest.mark.smoke
@pytest.mark.checklist("predeploy.dns", "security.https-only")
def test_www_redirect(site, prodcheck_evidence):
    _judge(prodcheck_evidence, http.check_www_redirect(site))


@pytest.mark.smoke
@pytest.mark.checklist(
    "predeploy.security-headers", "security.https-only", "testing.security-audit"
)
def test_hsts(pages, site, prodcheck_evidence):
    _judge(prodcheck_evidence, http.check_hsts(pages, site.expect))


@pytest.mark.smoke
@pytest.mark.checklist("predeploy.security-headers", "testing.security-audit")
def test_x_frame_options(pages, prodcheck_evidence):
    _judge(prodcheck_evidence, http.check_x_frame_options(pages))


@pytest.mark.smoke
@pytest.mark.checklist("predeploy.security-headers", "testing.security-audit")
def test_x_content_type_options(pages, prodcheck_evidence):
    _judge(prodcheck_evidence, http.check_x_content_type_options(pages))


@pytest.mark.smoke
@pytest.mark.checklist("predeploy.security-headers", "testing.security-audit")
def test_content_security_policy(pages, prodcheck_evidence):
    _judge(prodcheck_evidence, http.check_csp(pages))


@pytest.mark.smoke
@pytest.mark.checklist("predeploy.security-headers", "testing.security-audit")
def test_server_banner(pages, prodcheck_evidence):
    _judge(prodcheck_evidence, http.check_server_banner(pages))


@pytest.mark.smoke
@pytest.mark.checklist("performance.gzip")
def test_gzip(pages, prodcheck_evidence):
    _judge(prodcheck_evidence, http.check_gzip(pages))


@pytest.mark.smoke
def test_static_cache(site, prodcheck_evidence):
    _judge(prodcheck_evidence, http.check_static_cache(site))


@pytest.mark.smoke
def test_keepalive(site, prodcheck_evidence):
    _judge(prodcheck_evidence, http.check_keepalive(site))


@pytest.mark.smoke
@pytest.mark.checklist("security.rate-limiting", "testing.security-audit")
def test_body_limit(site, prodcheck_evidence):
    _judge(prodcheck_evidence, http.check_body_limit(site))


@pytest.mark.checklist("security.rate-limiting")
def test_rate_limit(site, prodcheck_evidence):
    # last in the module all the same; it leaves the buckets it filled drained (see above)
    _judge(prodcheck_evidence, http.check_rate_limit(site))
