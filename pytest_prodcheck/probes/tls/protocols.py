"""``tls.protocols``: only TLS 1.2 and 1.3 offered; SSLv2/3 and TLS 1.0/1.1 refused.

    >>> check_protocols(scan).status, check_protocols(scan).observed
    ('pass', 'TLSv1.2, TLSv1.3')
    >>> check_protocols(legacy_scan).message
    'legacy protocols offered: TLSv1.0, TLSv1.1 (set ssl_protocols TLSv1.2 TLSv1.3)'

The allowed set is the cipher profile's TLS versions limited to 1.2 and 1.3 (the deployment
guide's floor): ``modern`` allows TLS 1.3 only.
"""

from __future__ import annotations

from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.tls.profiles import load_profile
from pytest_prodcheck.probes.tls.scan import PROTOCOLS, TlsScan
from pytest_prodcheck.probes.tls.target import Expectations

CHECK_ID = "tls.protocols"
_FLOOR = ("TLSv1.2", "TLSv1.3")


def allowed_protocols(profile_name: str = "intermediate") -> tuple[str, ...]:
    """The protocol versions a site may offer under ``profile_name``."""
    versions = load_profile(profile_name).tls_versions
    return tuple(p for p in _FLOOR if p in versions) or _FLOOR


def check_protocols(scan: TlsScan, expect: Expectations | None = None) -> CheckResult:
    expect = expect or Expectations()
    allowed = allowed_protocols(expect.cipher_profile)
    expected = f"only {', '.join(allowed)} ({load_profile(expect.cipher_profile).label})"
    missing = [p for p in PROTOCOLS if p in scan.errors]
    offered = scan.protocols_offered
    observed = ", ".join(offered) or "none"
    bad = [p for p in offered if p not in allowed]
    if bad:
        return CheckResult.failed(
            CHECK_ID,
            observed,
            expected,
            f"legacy protocols offered: {', '.join(bad)} (set ssl_protocols {' '.join(allowed)})",
        )
    if missing:
        reasons = "; ".join(f"{p}: {scan.errors[p]}" for p in missing)
        return CheckResult.errored(CHECK_ID, f"could not test every protocol: {reasons}", expected)
    if not offered:
        return CheckResult.failed(CHECK_ID, observed, expected, "no TLS protocol version accepted")
    return CheckResult.passed(CHECK_ID, observed, expected)
