"""One sslyze scan of a site: offered protocols and suites, the served chain, the OCSP staple.

    >>> scan = scan_tls(target)                    # ~0.3 s on loopback; raises TargetUnreachable
    >>> scan.protocols_offered
    ('TLSv1.2', 'TLSv1.3')
    >>> scan.offered["TLSv1.2"][:1]
    ('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',)
    >>> scan.chain[0].subject.rfc4514_string(), scan.ocsp_stapled
    ('CN=shop.test,O=pytest-prodcheck', False)

Why sslyze: legacy protocols (SSLv2/3, TLS 1.0/1.1) and weak suites must be *detected* even though
the local OpenSSL (3.x, SECLEVEL 2) refuses to speak them. sslyze's nassl bundles its own OpenSSL
builds (a legacy 1.0.2 for SSLv2/3 and a modern one), tries every suite it knows one handshake at a
time, and runs the handshakes concurrently; the library API needs no subprocess. Only the scan
commands the checks need are queued (six cipher-suite commands, certificate info and the
elliptic-curve groups).
A scan command that fails is recorded in :attr:`TlsScan.errors` (its checks report ``error``) and
does not abort the others.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from pytest_prodcheck.core.errors import TargetUnreachable, ToolError
from pytest_prodcheck.probes.tls.target import SiteTarget

_preload_lock = threading.Lock()
_preloaded = False


def _preload_trust_stores() -> None:
    """Parse sslyze's bundled trust stores once, quietly (one root has a negative serial number,
    which makes ``cryptography`` warn on every parse)."""
    global _preloaded
    with _preload_lock:
        if _preloaded:
            return
        from sslyze.plugins.certificate_info.trust_stores.trust_store_repository import (
            TrustStoresRepository,
        )

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            TrustStoresRepository.get_default()
        _preloaded = True


PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")
_COMMANDS = {
    "SSLv2": "SSL_2_0_CIPHER_SUITES",
    "SSLv3": "SSL_3_0_CIPHER_SUITES",
    "TLSv1.0": "TLS_1_0_CIPHER_SUITES",
    "TLSv1.1": "TLS_1_1_CIPHER_SUITES",
    "TLSv1.2": "TLS_1_2_CIPHER_SUITES",
    "TLSv1.3": "TLS_1_3_CIPHER_SUITES",
}
CERT_KEY = "certificate"
GROUPS_KEY = "groups"


@dataclass(frozen=True)
class TlsScan:
    """What the server offered. ``offered[proto]`` is empty when ``proto`` is refused."""

    host: str
    port: int
    offered: dict[str, tuple[str, ...]] = field(default_factory=dict)
    chain: tuple[x509.Certificate, ...] = ()  # as served for SNI = host; [0] is the leaf
    ocsp_stapled: bool = False
    # key-exchange groups (curves) the server accepts, SECG names; None when not scanned
    groups: tuple[str, ...] | None = None
    errors: dict[str, str] = field(default_factory=dict)  # protocol or CERT_KEY -> why it failed

    @property
    def protocols_offered(self) -> tuple[str, ...]:
        return tuple(p for p in PROTOCOLS if self.offered.get(p))

    @property
    def leaf(self) -> x509.Certificate | None:
        return self.chain[0] if self.chain else None


def scan_tls(
    target: SiteTarget,
    *,
    suites: bool = True,
    certificate: bool = True,
    groups: bool = True,
    timeout: int = 5,
) -> TlsScan:
    """Scan ``target``'s HTTPS endpoint; raise TargetUnreachable when no handshake succeeds.

    ``suites=False`` skips the per-suite handshakes (hundreds) when only the certificate matters;
    ``offered`` is then empty and the protocol/cipher checks report ``error``. ``groups=False``
    skips the one-handshake-per-curve scan (sslyze's elliptic curves).
    """
    from sslyze.errors import ServerHostnameCouldNotBeResolved
    from sslyze.plugins.scan_commands import ScanCommand
    from sslyze.scanner.models import ServerScanRequest, ServerScanStatusEnum
    from sslyze.scanner.scan_command_attempt import ScanCommandAttemptStatusEnum
    from sslyze.scanner.scanner import Scanner
    from sslyze.server_setting import ServerNetworkConfiguration, ServerNetworkLocation

    host, port = target.apex, target.port
    addr = target.address(host, port)
    try:
        location = ServerNetworkLocation(host, port, ip_address=None if addr == host else addr)
    except ServerHostnameCouldNotBeResolved:
        raise TargetUnreachable(
            f"{host} does not resolve: fix DNS or pass --resolve {host}:{port}:ADDR"
        ) from None
    commands = {getattr(ScanCommand, name) for name in _COMMANDS.values()} if suites else set()
    if certificate:
        _preload_trust_stores()
        # only the served chain and staple are used; path validation is ours (chain.py)
        commands.add(ScanCommand.CERTIFICATE_INFO)
    if groups:
        commands.add(ScanCommand.ELLIPTIC_CURVES)
    request = ServerScanRequest(
        server_location=location,
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=host, network_timeout=timeout, network_max_retries=1
        ),
        scan_commands=commands,
    )
    scanner = Scanner(per_server_concurrent_connections_limit=8, concurrent_server_scans_limit=1)
    scanner.queue_scans([request])
    results = list(scanner.get_results())
    if len(results) != 1:
        raise ToolError(f"sslyze returned {len(results)} results for one server")
    result = results[0]
    if result.scan_status != ServerScanStatusEnum.COMPLETED or result.scan_result is None:
        reason = _trace_line(result.connectivity_error_trace) or "no TLS handshake succeeded"
        raise TargetUnreachable(f"cannot reach https://{host}:{port} ({addr}): {reason}")

    attempts = result.scan_result
    offered: dict[str, tuple[str, ...]] = {}
    errors: dict[str, str] = {}
    for proto, name in _COMMANDS.items():
        if not suites:
            offered[proto], errors[proto] = (), "not scanned (suites=False)"
            continue
        attempt = getattr(attempts, getattr(ScanCommand, name).value)
        if attempt.status == ScanCommandAttemptStatusEnum.COMPLETED and attempt.result is not None:
            offered[proto] = tuple(
                s.cipher_suite.name for s in attempt.result.accepted_cipher_suites
            )
        else:
            offered[proto] = ()
            errors[proto] = _attempt_error(attempt)
    chain: tuple[x509.Certificate, ...] = ()
    stapled = False
    if certificate:
        attempt = attempts.certificate_info
        if attempt.status == ScanCommandAttemptStatusEnum.COMPLETED and attempt.result is not None:
            deployments = attempt.result.certificate_deployments
            if deployments:
                chain = tuple(deployments[0].received_certificate_chain)
                stapled = deployments[0].ocsp_response is not None
        else:
            errors[CERT_KEY] = _attempt_error(attempt)
    accepted: tuple[str, ...] | None = None
    if groups:
        attempt = attempts.elliptic_curves
        if attempt.status == ScanCommandAttemptStatusEnum.COMPLETED and attempt.result is not None:
            accepted = tuple(c.name for c in attempt.result.supported_curves or ())
        else:
            errors[GROUPS_KEY] = _attempt_error(attempt)
    return TlsScan(host, port, offered, chain, stapled, accepted, errors)


def _attempt_error(attempt: Any) -> str:
    trace = _trace_line(getattr(attempt, "error_trace", None))
    reason = getattr(attempt, "error_reason", None)
    label = getattr(reason, "value", reason) or "scan failed"
    return f"{label}: {trace}" if trace else str(label)


def _trace_line(trace: Any) -> str:
    if trace is None:
        return ""
    try:
        return "".join(trace.format_exception_only()).strip().splitlines()[-1]
    except Exception:  # pragma: no cover - defensive: a trace we cannot format
        return str(trace)
