"""``tls.cert.chain``: the served chain builds to a trusted root (system store or a CA bundle).

    >>> check_chain(scan, target).status
    'pass'
    >>> check_chain(leaf_only_scan, target).message
    'the server sends only its leaf certificate, no intermediate: serve fullchain.pem, not cert.pem (…)'

Validation uses ``cryptography``'s RFC 5280 / CA-Browser-Forum verifier (the one sslyze uses) on
the chain exactly as served, with the intermediates the server sent and nothing fetched by AIA, so
a leaf-only chain fails here as it fails in curl and most non-browser clients. The trust anchors
are ``target.ca_bundle`` when set, else the system store. The host name checked against is one
the certificate itself names (coverage of the configured names is ``tls.cert.hostname``).
"""

from __future__ import annotations

import functools
import os
import re
import ssl
import warnings
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.tls.scan import CERT_KEY, TlsScan
from pytest_prodcheck.probes.tls.target import SiteTarget

CHECK_ID = "tls.cert.chain"
_SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
)


def system_bundle() -> str | None:
    """The system CA bundle file (SSL_CERT_FILE, OpenSSL's default, then distro paths)."""
    paths = ssl.get_default_verify_paths()
    for candidate in (os.environ.get("SSL_CERT_FILE"), paths.cafile, *_SYSTEM_BUNDLES):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


def load_anchors(path: str) -> list[x509.Certificate]:
    """The certificates of a PEM bundle (cached while the file is unchanged)."""
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError as exc:
        raise ConfigError(f"cannot read CA bundle {path}: {exc.strerror}") from exc
    return list(_load_anchors(path, stamp))


@functools.lru_cache(maxsize=8)
def _load_anchors(path: str, stamp: int) -> tuple[x509.Certificate, ...]:
    try:
        with open(path, "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # odd legacy roots (negative serials) in system stores
            certs = x509.load_pem_x509_certificates(fh.read())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read CA bundle {path}: {exc}") from exc
    return tuple(certs)


def _verify_name(leaf: x509.Certificate) -> str | None:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for name in san.get_values_for_type(x509.DNSName):
        return "prodcheck-wildcard." + name[2:] if name.startswith("*.") else name
    return None


def short_error(error: str) -> str:
    """cryptography's verifier message without its debug dumps (one readable clause)."""
    text = error.split(" (encountered", 1)[0]
    text = re.sub(r"AlgorithmIdentifier \{.*", "not allowed (e.g. SHA-1)", text)
    text = text.replace("validation failed: ", "")
    return text[:200]


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


def check_chain(scan: TlsScan, target: SiteTarget, *, now: datetime | None = None) -> CheckResult:
    anchors_path = target.ca_bundle or system_bundle()
    store_label = f"CA bundle {target.ca_bundle}" if target.ca_bundle else "the system store"
    expected = f"a chain to a root in {store_label}"
    if CERT_KEY in scan.errors or not scan.chain:
        return CheckResult.errored(
            CHECK_ID,
            f"no certificate received: {scan.errors.get(CERT_KEY, 'empty chain')}",
            expected,
        )
    if anchors_path is None:
        return CheckResult.errored(
            CHECK_ID, "no system CA bundle found: pass --ca-bundle / set ca_bundle", expected
        )
    leaf, intermediates = scan.chain[0], list(scan.chain[1:])
    observed = " <- ".join(_subject(c) for c in scan.chain)
    now = now or datetime.now(UTC)
    name = _verify_name(leaf)
    if name is None:
        return CheckResult.failed(
            CHECK_ID, observed, expected, "the certificate has no DNS subjectAltName"
        )
    anchors = load_anchors(anchors_path)
    store = Store(anchors)

    verifier = PolicyBuilder().store(store).time(now).build_server_verifier(x509.DNSName(name))
    try:
        verifier.verify(leaf, intermediates)
    except (VerificationError, ValueError) as exc:  # ValueError: malformed extensions
        error = str(exc)
    else:
        return CheckResult.passed(CHECK_ID, observed, expected)
    detail = short_error(error)
    if leaf.issuer == leaf.subject:
        msg = "the certificate is self-signed: use one issued by a trusted CA"
    elif not intermediates and not any(a.subject == leaf.issuer for a in anchors):
        msg = (
            "the server sends only its leaf certificate, no intermediate: "
            "serve fullchain.pem, not cert.pem"
        )
    elif "not valid at validation time" in error:
        msg = "a certificate of the chain is expired or not yet valid (see tls.cert.expiry)"
    else:
        msg = f"the chain does not validate against {store_label}"
    return CheckResult.failed(CHECK_ID, observed, expected, f"{msg} ({detail})")
