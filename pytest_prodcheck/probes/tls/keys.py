"""``tls.cert.key``: RSA ≥ 2048 or EC ≥ 256 bits; no SHA-1 (or MD5) signature in the served chain.

>>> check_key(scan).observed
'leaf EC P-256 (secp256r1), signed ecdsa-with-SHA256; intermediate EC 256, signed ecdsa-with-SHA256'
>>> check_key(weak_scan).message
'leaf: RSA 1024 bits < 2048; leaf: signed with SHA-1'
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.tls.scan import CERT_KEY, TlsScan

CHECK_ID = "tls.cert.key"
MIN_RSA = 2048
MIN_EC = 256


def describe_key(cert: x509.Certificate) -> tuple[str, str | None]:
    """``("EC 256", None)`` or ``("RSA 1024", "RSA 1024 bits < 2048")``: description, problem."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        size = key.key_size
        return f"RSA {size}", (f"RSA {size} bits < {MIN_RSA}" if size < MIN_RSA else None)
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = key.curve.key_size
        return f"EC {size} ({key.curve.name})", (
            f"EC {size} bits < {MIN_EC}" if size < MIN_EC else None
        )
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return "EdDSA", None
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}", "DSA keys are not accepted by browsers"
    return type(key).__name__, "unknown key type"


def describe_signature(cert: x509.Certificate) -> tuple[str, str | None]:
    try:
        algo = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        algo = None
    oid_name = getattr(cert.signature_algorithm_oid, "_name", "unknown")
    if isinstance(algo, hashes.SHA1):
        return oid_name, "signed with SHA-1"
    if isinstance(algo, hashes.MD5):
        return oid_name, "signed with MD5"
    return oid_name, None


def check_key(scan: TlsScan) -> CheckResult:
    expected = f"RSA ≥ {MIN_RSA} or EC ≥ {MIN_EC} bits; no SHA-1 signature"
    if not scan.chain:
        return CheckResult.errored(
            CHECK_ID, scan.errors.get(CERT_KEY, "no certificate received"), expected
        )
    parts: list[str] = []
    problems: list[str] = []
    for index, cert in enumerate(scan.chain):
        role = (
            "leaf"
            if index == 0
            else f"intermediate {index}"
            if len(scan.chain) > 2
            else "intermediate"
        )
        if index > 0 and cert.issuer == cert.subject:
            continue  # a root sent along: its self-signature is not checked by clients
        key_desc, key_problem = describe_key(cert)
        sig_desc, sig_problem = describe_signature(cert)
        parts.append(f"{role} {key_desc}, signed {sig_desc}")
        problems += [f"{role}: {p}" for p in (key_problem, sig_problem) if p]
    observed = "; ".join(parts)
    if problems:
        return CheckResult.failed(CHECK_ID, observed, expected, "; ".join(problems))
    return CheckResult.passed(CHECK_ID, observed, expected)
