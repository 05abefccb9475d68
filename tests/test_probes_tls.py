"""TLS and certificate checks against real nginx servers: each passes on the good server and fails
on a server that is wrong in exactly its way (the "TLS zoo": one nginx, one broken block per port).
"""

from __future__ import annotations

import socket
import ssl
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes import tls
from tests._tls_servers import Lab


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab.create()
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="module")
def zoo(lab: Lab) -> Callable[[str], tuple[tls.SiteTarget, tls.TlsScan]]:
    """``zoo("expired")`` → (target, scan) of that zoo block, scanned once per module."""
    cache: dict[str, tuple[tls.SiteTarget, tls.TlsScan]] = {}

    def get(block: str) -> tuple[tls.SiteTarget, tls.TlsScan]:
        if block not in cache:
            target = lab.zoo_target(block)
            # the per-suite handshakes (hundreds) only where protocols/suites are judged
            suites = block in ("good", "legacy_protocols", "weak_ciphers")
            cache[block] = (target, tls.scan_tls(target, suites=suites))
        return cache[block]

    return get


def run_check(check_id: str, target: tls.SiteTarget, scan: tls.TlsScan) -> CheckResult:
    return {
        "tls.protocols": lambda: tls.check_protocols(scan, target.expect),
        "tls.ciphers": lambda: tls.check_ciphers(scan, target.expect),
        "tls.cert.chain": lambda: tls.check_chain(scan, target),
        "tls.cert.hostname": lambda: tls.check_hostname(target),
        "tls.cert.expiry": lambda: tls.check_expiry(scan, target.expect),
        "tls.cert.key": lambda: tls.check_key(scan),
        "tls.ocsp-stapling": lambda: tls.check_ocsp(scan),
        "tls.alpn-h2": lambda: tls.check_alpn(target),
    }[check_id]()


TLS_CHECKS = (
    "tls.protocols",
    "tls.ciphers",
    "tls.cert.chain",
    "tls.cert.hostname",
    "tls.cert.expiry",
    "tls.cert.key",
    "tls.alpn-h2",
)


@pytest.mark.parametrize("check_id", TLS_CHECKS)
def test_passes_on_the_good_server(zoo, check_id):
    target, scan = zoo("good")
    result = run_check(check_id, target, scan)
    assert result.status == "pass", result
    assert result.observed and result.expected


# (check, zoo block wrong in exactly that way, what the message must say)
BAD = [
    ("tls.protocols", "legacy_protocols", "legacy protocols offered: TLSv1.0, TLSv1.1"),
    ("tls.ciphers", "weak_ciphers", "TLS_RSA_WITH_AES_128_CBC_SHA (static RSA, CBC)"),
    ("tls.ciphers", "weak_ciphers", "TLS_RSA_WITH_NULL_SHA (static RSA, NULL)"),
    ("tls.ciphers", "legacy_protocols", "(CBC)"),
    ("tls.cert.chain", "self_signed", "self-signed"),
    ("tls.cert.chain", "leaf_only", "only its leaf certificate, no intermediate"),
    ("tls.cert.chain", "expired", "expired or not yet valid"),
    (
        "tls.cert.hostname",
        "wrong_host",
        "shop.test (certificate names: other.test, www.other.test)",
    ),
    ("tls.cert.hostname", "partial_names", "not covered: api.shop.test"),
    ("tls.cert.expiry", "expired", "expired on"),
    ("tls.cert.expiry", "expiring", "renew now: 10.0 days left (< 14 days)"),
    ("tls.cert.expiry", "overdue", "of the lifetime left (< 33%)"),
    ("tls.cert.key", "weak_key", "leaf: RSA 1024 bits < 2048"),
    ("tls.cert.key", "sha1", "leaf: signed with SHA-1"),
    ("tls.ocsp-stapling", "ocsp_not_stapled", "no OCSP staple sent"),
    ("tls.alpn-h2", "no_h2", "HTTP/2 not negotiated"),
]


@pytest.mark.parametrize(("check_id", "block", "says"), BAD, ids=[f"{c}-{b}" for c, b, _ in BAD])
def test_fails_on_its_bad_server(zoo, check_id, block, says):
    target, scan = zoo(block)
    result = run_check(check_id, target, scan)
    assert result.status == "fail", result
    assert says in result.message, result.message


def test_ciphers_names_the_mozilla_guideline_version(zoo):
    target, scan = zoo("good")
    result = tls.check_ciphers(scan, target.expect)
    assert "Mozilla intermediate (guideline 5.7)" in result.expected


def test_legacy_protocols_are_seen_although_local_openssl_refuses_them(zoo):
    """sslyze's own OpenSSL builds find TLS 1.0/1.1 although the machine's OpenSSL, as configured
    (SECLEVEL 2), cannot even offer them, and a NULL suite that no default client offers."""
    target, scan = zoo("legacy_protocols")
    local = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    local.check_hostname, local.verify_mode = False, ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        local.minimum_version = ssl.TLSVersion.TLSv1
        local.maximum_version = ssl.TLSVersion.TLSv1_1
    with (
        socket.create_connection(("127.0.0.1", target.port), timeout=5) as sock,
        pytest.raises(ssl.SSLError),
    ):
        local.wrap_socket(sock, server_hostname="shop.test")
    assert scan.offered["TLSv1.0"] and scan.offered["TLSv1.1"]
    assert not scan.offered["SSLv2"] and not scan.offered["SSLv3"]
    _, weak = zoo("weak_ciphers")
    assert "TLS_RSA_WITH_NULL_SHA" in weak.offered["TLSv1.2"]


def test_ocsp_is_not_applicable_without_a_responder(zoo):
    _, scan = zoo("good")
    result = tls.check_ocsp(scan)
    assert result.status == "n/a" and result.ok
    assert "names no OCSP responder" in result.message


def test_ocsp_passes_when_a_staple_is_sent(zoo):
    _, scan = zoo("ocsp_stapled")
    assert scan.ocsp_stapled
    result = tls.check_ocsp(scan)
    assert result.status == "pass", result


def test_chain_against_the_system_store_fails_for_a_private_ca(zoo):
    target, scan = zoo("good")
    result = tls.check_chain(scan, tls.SiteTarget.from_args(target.url, resolve=[]))
    assert result.status == "fail"
    assert "the system store" in result.expected


def test_expiry_thresholds_are_configurable(zoo):
    target, scan = zoo("good")
    assert tls.check_expiry(scan, target.expect).status == "pass"
    strict = target.with_expectations(min_days=120)
    result = tls.check_expiry(scan, strict.expect)
    assert result.status == "fail" and "(< 120 days)" in result.message
    later = datetime.now(UTC) + timedelta(days=70)
    result = tls.check_expiry(scan, target.expect, now=later)
    assert result.status == "fail" and "renewal overdue" in result.message


def test_hostname_fails_for_a_name_that_does_not_resolve(zoo):
    target, _ = zoo("good")
    extra = tls.SiteTarget.from_args(
        target.url,
        resolve=[f"{h}:{p}:{a}" for h, p, a in target.resolve],
        names=["nowhere.invalid"],
    )
    result = tls.check_hostname(extra)
    assert result.status == "fail"
    assert "nowhere.invalid" in result.message and "does not resolve" in result.message


def test_certificate_only_scan_reports_suites_as_not_scanned(zoo):
    _, scan = zoo("expired")
    assert tls.check_protocols(scan).status == "error"
    assert scan.chain


def test_scan_of_a_closed_port_is_unreachable():
    target = tls.SiteTarget.from_args(f"https://shop.test:{free_port()}", resolve=[])
    target = tls.SiteTarget.from_args(target.url, resolve=[f"shop.test:{target.port}:127.0.0.1"])
    with pytest.raises(TargetUnreachable, match=r"cannot reach|Connection refused|connect"):
        tls.scan_tls(target)
