"""TLS and certificates: the guide's "SSL/TLS Configuration" and "SSL/TLS Best Practices".

    $ pytest suites/test_tls.py -m smoke
    $ pytest -m tls --prodcheck-url https://shop.example.com

One sslyze scan and one handshake per configured name are shared by the whole module; each test
judges one check and records its observed value and expectation as evidence.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pytest_prodcheck.core.errors import ProdcheckError
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes import tls

pytestmark = [pytest.mark.tls]


@pytest.fixture(scope="module")
def site(prodcheck_stack, prodcheck_settings) -> tls.SiteTarget:
    return tls.SiteTarget.from_endpoints(prodcheck_stack, prodcheck_settings)


def _once(fn: Callable[[], object]) -> object:
    try:
        return fn()
    except ProdcheckError as exc:
        pytest.fail(f"prodcheck: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def tls_scan(site: tls.SiteTarget) -> tls.TlsScan:
    return _once(lambda: tls.scan_tls(site))  # type: ignore[return-value]


@pytest.fixture(scope="module")
def name_handshakes(site: tls.SiteTarget) -> list[tls.Handshake]:
    return _once(lambda: tls.handshakes(site))  # type: ignore[return-value]


def _judge(evidence, result: CheckResult) -> None:
    result = evidence.check(result)
    assert result.ok, f"{result.id}: {result.message} (observed: {result.observed})"


@pytest.mark.smoke
@pytest.mark.checklist("testing.ssl-configuration", "security.https-only")
def test_protocols(tls_scan, site, prodcheck_evidence):
    _judge(prodcheck_evidence, tls.check_protocols(tls_scan, site.expect))


@pytest.mark.smoke
@pytest.mark.checklist("testing.ssl-configuration", "security.https-only")
def test_ciphers(tls_scan, site, prodcheck_evidence):
    _judge(prodcheck_evidence, tls.check_ciphers(tls_scan, site.expect))


@pytest.mark.smoke
@pytest.mark.checklist("predeploy.ssl-certificates", "testing.ssl-configuration")
def test_certificate_chain(tls_scan, site, prodcheck_evidence):
    _judge(prodcheck_evidence, tls.check_chain(tls_scan, site))


@pytest.mark.smoke
@pytest.mark.checklist("predeploy.ssl-certificates", "predeploy.dns")
def test_certificate_hostnames(site, name_handshakes, prodcheck_evidence):
    _judge(prodcheck_evidence, tls.check_hostname(site, name_handshakes))


@pytest.mark.smoke
@pytest.mark.checklist("predeploy.ssl-certificates", "testing.ssl-configuration")
def test_certificate_expiry(tls_scan, site, prodcheck_evidence):
    _judge(prodcheck_evidence, tls.check_expiry(tls_scan, site.expect))


@pytest.mark.smoke
@pytest.mark.checklist("predeploy.ssl-certificates", "testing.ssl-configuration")
def test_certificate_key(tls_scan, prodcheck_evidence):
    _judge(prodcheck_evidence, tls.check_key(tls_scan))


@pytest.mark.smoke
@pytest.mark.checklist("predeploy.ssl-certificates", "testing.ssl-configuration")
def test_certificate_matches_the_mozilla_profile(tls_scan, site, prodcheck_evidence):
    """Leaf key type, EC curve and signature algorithm as [tls] cipher_profile wants."""
    _judge(prodcheck_evidence, tls.check_cert_profile(tls_scan, site.expect))


@pytest.mark.smoke
@pytest.mark.checklist("testing.ssl-configuration")
def test_key_exchange_groups(tls_scan, site, prodcheck_evidence):
    """Every ECDHE group the server accepts is in the Mozilla profile (no X448, P-521)."""
    _judge(prodcheck_evidence, tls.check_groups(tls_scan, site.expect))


@pytest.mark.checklist("testing.ssl-configuration")
def test_ocsp_stapling(tls_scan, prodcheck_evidence):
    _judge(prodcheck_evidence, tls.check_ocsp(tls_scan))


@pytest.mark.smoke
@pytest.mark.checklist("testing.ssl-configuration")
def test_http2_alpn(site, name_handshakes, prodcheck_evidence):
    apex = next((h for h in name_handshakes if h.name == site.apex), None)
    _judge(prodcheck_evidence, tls.check_alpn(site, apex))
