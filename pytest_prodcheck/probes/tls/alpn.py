"""``tls.alpn-h2``: HTTP/2 is negotiated by ALPN on the apex.

>>> check_alpn(target).observed
'h2 (offered: h2, http/1.1)'
"""

from __future__ import annotations

from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.tls.handshake import Handshake, handshake
from pytest_prodcheck.probes.tls.target import SiteTarget

CHECK_ID = "tls.alpn-h2"
OFFER = ("h2", "http/1.1")


def check_alpn(target: SiteTarget, shake: Handshake | None = None) -> CheckResult:
    expected = "h2 selected by ALPN"
    shake = shake or handshake(target, target.apex, alpn=OFFER)
    if not shake.ok:
        return CheckResult.errored(CHECK_ID, shake.error, expected)
    observed = f"{shake.alpn or 'no ALPN'} (offered: {', '.join(OFFER)})"
    if shake.alpn != "h2":
        return CheckResult.failed(
            CHECK_ID, observed, expected, "HTTP/2 not negotiated: add http2 to the listen directive"
        )
    return CheckResult.passed(CHECK_ID, observed, expected)
