"""``tls.ocsp-stapling``: a staple is sent when the certificate names an OCSP responder.

    >>> check_ocsp(scan).status, check_ocsp(scan).message
    ('n/a', 'the certificate names no OCSP responder (as current Let's Encrypt certificates): nothing to staple')

Let's Encrypt dropped OCSP URLs in 2025, so most certificates have nothing to staple; nginx then
logs ``"ssl_stapling" ignored, no OCSP responder URL`` and sends none, which is correct.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.tls.scan import CERT_KEY, TlsScan

CHECK_ID = "tls.ocsp-stapling"


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        str(d.access_location.value)
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
    ]


def check_ocsp(scan: TlsScan) -> CheckResult:
    expected = "an OCSP staple in the handshake when the certificate names a responder"
    leaf = scan.leaf
    if leaf is None:
        return CheckResult.errored(
            CHECK_ID, scan.errors.get(CERT_KEY, "no certificate received"), expected
        )
    urls = ocsp_urls(leaf)
    if not urls:
        return CheckResult.not_applicable(
            CHECK_ID,
            "the certificate names no OCSP responder (as current Let's Encrypt certificates): "
            "nothing to staple",
            expected,
        )
    observed = f"responder {urls[0]}; staple {'sent' if scan.ocsp_stapled else 'not sent'}"
    if not scan.ocsp_stapled:
        return CheckResult.failed(
            CHECK_ID,
            observed,
            expected,
            "no OCSP staple sent: enable ssl_stapling (+ resolver, ssl_trusted_certificate) "
            "and check that the responder is reachable from the server",
        )
    return CheckResult.passed(CHECK_ID, observed, expected)
