"""``tls.ciphers``: every offered TLS 1.2 (and 1.3) suite is in the configured Mozilla profile.

    >>> check_ciphers(scan).expected
    'only Mozilla intermediate (guideline 5.7) suites; no static RSA, CBC, RC4, 3DES, NULL, EXPORT'
    >>> check_ciphers(weak_scan).message
    'suites outside Mozilla intermediate (guideline 5.7): TLS_RSA_WITH_AES_128_CBC_SHA (static RSA, CBC), …'

Suites come from sslyze's per-suite handshakes (IANA names), so weak ones are found even when the
local OpenSSL would refuse to negotiate them. RC4, 3DES, NULL, EXPORT and anonymous suites fail
under every profile; static-RSA key exchange and CBC fail unless the profile is ``old``.
"""

from __future__ import annotations

from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.tls.profiles import load_profile
from pytest_prodcheck.probes.tls.scan import TlsScan
from pytest_prodcheck.probes.tls.target import Expectations

CHECK_ID = "tls.ciphers"


def weaknesses(suite: str) -> list[str]:
    """Why a suite is weak, e.g. ``["static RSA", "CBC"]`` for TLS_RSA_WITH_AES_128_CBC_SHA."""
    out: list[str] = []
    if suite.startswith(("TLS_RSA_", "SSL_RSA_")):
        out.append("static RSA")
    if "_CBC_" in suite or suite.endswith("_CBC"):
        out.append("CBC")
    for marker, label in (
        ("RC4", "RC4"),
        ("3DES", "3DES"),
        ("DES_CBC", "DES"),
        ("_NULL", "NULL"),
        ("EXPORT", "EXPORT"),
        ("_anon_", "anonymous"),
        ("_MD5", "MD5"),
    ):
        if marker in suite and label not in out:
            out.append(label)
    return out


_ALWAYS_BAD = {"RC4", "3DES", "DES", "NULL", "EXPORT", "anonymous", "MD5"}


def check_ciphers(scan: TlsScan, expect: Expectations | None = None) -> CheckResult:
    expect = expect or Expectations()
    profile = load_profile(expect.cipher_profile)
    expected = (
        f"only {profile.label} suites; no static RSA, CBC, RC4, 3DES, NULL, EXPORT"
        if profile.name != "old"
        else f"only {profile.label} suites; no RC4, 3DES, NULL, EXPORT"
    )
    if "TLSv1.2" in scan.errors or "TLSv1.3" in scan.errors:
        reason = scan.errors.get("TLSv1.2") or scan.errors.get("TLSv1.3") or ""
        return CheckResult.errored(CHECK_ID, f"cipher suite scan failed: {reason}", expected)
    tls12 = scan.offered.get("TLSv1.2", ())
    tls13 = scan.offered.get("TLSv1.3", ())
    bad: list[str] = []
    for suite in tls12:
        weak = weaknesses(suite)
        hard = [w for w in weak if w in _ALWAYS_BAD or profile.name != "old"]
        if suite not in profile.tls12_suites or hard:
            bad.append(f"{suite} ({', '.join(weak)})" if weak else suite)
    bad += [s for s in tls13 if s not in profile.tls13_suites]
    observed = "; ".join(
        part
        for part in (
            f"TLSv1.2: {', '.join(tls12)}" if tls12 else "",
            f"TLSv1.3: {', '.join(tls13)}" if tls13 else "",
        )
        if part
    )
    if not observed:
        return CheckResult.errored(CHECK_ID, "no TLS 1.2 or 1.3 suite accepted", expected)
    if bad:
        return CheckResult.failed(
            CHECK_ID, observed, expected, f"suites outside {profile.label}: {', '.join(bad)}"
        )
    return CheckResult.passed(CHECK_ID, observed, expected)
