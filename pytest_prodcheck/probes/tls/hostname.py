"""``tls.cert.hostname``: the certificate served for each configured name covers that name.

    >>> check_hostname(target).observed
    'shop.test ✓, www.shop.test ✓, api.shop.test ✓, monitoring.shop.test ✓'
    >>> check_hostname(wrong_host_target).message
    'not covered: www.shop.test (certificate names: other.test)'

One handshake per name with that name as SNI (a server may pick a certificate per name); a name
that does not resolve fails here too, which is what the ``predeploy.dns`` item needs to know.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from cryptography import x509

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.tls.handshake import Handshake, handshake
from pytest_prodcheck.probes.tls.target import SiteTarget

CHECK_ID = "tls.cert.hostname"
ALPN = ("h2", "http/1.1")


def cert_names(cert: x509.Certificate) -> list[str]:
    """DNS names of the subjectAltName (the CN only when there is no SAN, as old clients did)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return [n.lower() for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        return []


def covers(cert: x509.Certificate, name: str) -> bool:
    """True if a SAN entry matches ``name`` (a wildcard stands for exactly one left-most label)."""
    name = name.lower().rstrip(".")
    for pattern in cert_names(cert):
        if pattern == name:
            return True
        if pattern.startswith("*.") and "." in name:
            first, rest = name.split(".", 1)
            if first and rest == pattern[2:]:
                return True
    return False


def handshakes(target: SiteTarget) -> list[Handshake]:
    """One handshake per configured name, concurrently (DNS failures become failed handshakes)."""

    def one(name: str) -> Handshake:
        try:
            return handshake(target, name, alpn=ALPN)
        except TargetUnreachable as exc:
            return Handshake(name, False, error=str(exc))

    with ThreadPoolExecutor(max_workers=max(1, len(target.names))) as pool:
        return list(pool.map(one, target.names))


def check_hostname(target: SiteTarget, shakes: Sequence[Handshake] | None = None) -> CheckResult:
    shakes = list(shakes) if shakes is not None else handshakes(target)
    expected = f"a certificate covering {', '.join(target.names)}"
    parts: list[str] = []
    problems: list[str] = []
    for hs in shakes:
        if not hs.ok or hs.leaf is None:
            parts.append(f"{hs.name} ✗")
            problems.append(f"{hs.name} ({hs.error or 'no certificate'})")
        elif covers(hs.leaf, hs.name):
            parts.append(f"{hs.name} ✓")
        else:
            parts.append(f"{hs.name} ✗")
            listed = ", ".join(cert_names(hs.leaf)) or "no DNS names"
            problems.append(f"{hs.name} (certificate names: {listed})")
    observed = ", ".join(parts)
    if problems:
        return CheckResult.failed(
            CHECK_ID, observed, expected, f"not covered: {'; '.join(problems)}"
        )
    return CheckResult.passed(CHECK_ID, observed, expected)
