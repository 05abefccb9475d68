"""Mozilla's TLS profile beyond suites: key-exchange groups and the leaf certificate's kind.

    >>> check_groups(scan).observed          # sslyze's elliptic-curves scan, one handshake per curve
    'X25519, secp256r1, secp384r1'
    >>> check_groups(weak_scan).message
    'groups outside Mozilla intermediate (guideline 5.7): X448, secp521r1 (set ssl_ecdh_curve …)'
    >>> check_cert_profile(scan).expected
    'Mozilla intermediate (guideline 5.7): ecdsa or rsa leaf; EC curve secp256r1/secp384r1; …'

The profile is :attr:`Expectations.cipher_profile` (``[tls] cipher_profile``: ``intermediate``
by default, ``modern`` or ``old``), the same one ``tls.ciphers`` judges against; every result
names it. What is judged is what sslyze's Mozilla checker judges: every accepted group must be in
the profile's ``tls_curves``; the leaf's key type, EC curve, RSA size and signature algorithm must
be among the profile's ``certificate_*`` values.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.tls.profiles import TlsProfile, load_profile
from pytest_prodcheck.probes.tls.scan import CERT_KEY, GROUPS_KEY, TlsScan
from pytest_prodcheck.probes.tls.target import Expectations

GROUPS_ID = "tls.groups"
CERT_PROFILE_ID = "tls.cert.profile"

# the nginx directive that sets the groups, as Mozilla's generator writes it (X9.62 name for P-256)
_NGINX_NAMES = {"secp256r1": "prime256v1"}


def nginx_ecdh_curve(profile: TlsProfile) -> str:
    """``"X25519:prime256v1:secp384r1"``: the profile's groups as nginx's ``ssl_ecdh_curve``."""
    return ":".join(_NGINX_NAMES.get(c, c) for c in profile.tls_curves)


def check_groups(scan: TlsScan, expect: Expectations | None = None) -> CheckResult:
    """``tls.groups``: every key-exchange group (curve) the server accepts is in the profile."""
    profile = load_profile((expect or Expectations()).cipher_profile)
    expected = f"only {profile.label} groups: {', '.join(profile.tls_curves)}"
    if scan.groups is None:
        reason = scan.errors.get(GROUPS_KEY, "not scanned")
        return CheckResult.errored(GROUPS_ID, f"group scan failed: {reason}", expected)
    if not scan.groups:
        return CheckResult.not_applicable(
            GROUPS_ID, "the server offers no ECDHE key exchange", expected
        )
    observed = ", ".join(scan.groups)
    bad = [g for g in scan.groups if g not in profile.tls_curves]
    if bad:
        return CheckResult.failed(
            GROUPS_ID,
            observed,
            expected,
            f"groups outside {profile.label}: {', '.join(bad)} "
            f"(set ssl_ecdh_curve {nginx_ecdh_curve(profile)}; in nginx)",
        )
    return CheckResult.passed(GROUPS_ID, observed, expected)


def leaf_kind(cert: x509.Certificate) -> tuple[str, str | None, int]:
    """``("ecdsa", "secp256r1", 256)`` or ``("rsa", None, 2048)``: key type, EC curve, size."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ecdsa", key.curve.name, key.curve.key_size
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", None, key.key_size
    return type(key).__name__.removesuffix("PublicKey").lower(), None, 0


def signature_name(cert: x509.Certificate) -> str:
    """The leaf's signature algorithm as the profiles name it: ``"ecdsa-with-SHA256"``."""
    return str(getattr(cert.signature_algorithm_oid, "_name", cert.signature_algorithm_oid))


def check_cert_profile(scan: TlsScan, expect: Expectations | None = None) -> CheckResult:
    """``tls.cert.profile``: the leaf's key type, curve, size and signature are the profile's."""
    profile = load_profile((expect or Expectations()).cipher_profile)
    rsa_part = f"; RSA ≥ {profile.rsa_key_size}" if profile.rsa_key_size else ""
    expected = (
        f"{profile.label}: {' or '.join(profile.certificate_types)} leaf; "
        f"EC curve {'/'.join(profile.certificate_curves)}{rsa_part}; "
        f"signed {'/'.join(profile.certificate_signatures)}"
    )
    leaf = scan.leaf
    if leaf is None:
        reason = scan.errors.get(CERT_KEY, "no certificate received")
        return CheckResult.errored(CERT_PROFILE_ID, reason, expected)
    kind, curve, size = leaf_kind(leaf)
    signature = signature_name(leaf)
    observed = f"{kind} {curve or size}, signed {signature}"
    problems: list[str] = []
    if kind not in profile.certificate_types:
        problems.append(
            f"a {kind} certificate (the profile wants {' or '.join(profile.certificate_types)})"
        )
    if kind == "ecdsa" and curve not in profile.certificate_curves:
        problems.append(f"EC curve {curve} (use {' or '.join(profile.certificate_curves)})")
    if kind == "rsa" and profile.rsa_key_size and size < profile.rsa_key_size:
        problems.append(f"RSA {size} bits < {profile.rsa_key_size}")
    if signature not in profile.certificate_signatures:
        problems.append(
            f"signed {signature} (the profile accepts {', '.join(profile.certificate_signatures)})"
        )
    if problems:
        return CheckResult.failed(
            CERT_PROFILE_ID,
            observed,
            expected,
            f"leaf outside {profile.label}: {'; '.join(problems)}",
        )
    return CheckResult.passed(CERT_PROFILE_ID, observed, expected)


__all__ = [
    "CERT_PROFILE_ID",
    "GROUPS_ID",
    "check_cert_profile",
    "check_groups",
    "leaf_kind",
    "nginx_ecdh_curve",
    "signature_name",
]
