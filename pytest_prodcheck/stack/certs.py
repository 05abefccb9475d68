"""A throwaway CA and leaf certificates, good ones and deliberately bad ones.

    >>> ca = make_ca("prodcheck test CA")
    >>> leaf = issue_leaf(ca, ["shop.test", "www.shop.test"])    # EC P-256, 90 days, SHA-256
    >>> paths = write_pem(leaf, cert_dir)  # fullchain.pem, privkey.pem (0600), cert.pem, ca.pem
    >>> expired = issue_leaf(ca, ["shop.test"], not_before=utcnow() - timedelta(days=100), days=90)
    >>> soon = issue_leaf(ca, ["shop.test"], not_before=utcnow() - timedelta(days=87), days=90)
    >>> weak = issue_leaf(ca, ["shop.test"], key_type="rsa", key_size=1024, hash="sha1")
    >>> selfie = issue_leaf(ca, ["shop.test"], self_signed=True)           # not chained to ``ca``
    >>> inter = make_intermediate(ca, "prodcheck intermediate")
    >>> chained = issue_leaf(inter, ["shop.test"])  # fullchain: leaf + intermediate; ca.pem: root

Generating an EC CA + leaf takes about a millisecond; RSA-2048 about 60 ms.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.files import replace_file

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
KeyType = Literal["ec", "rsa"]
HashName = Literal["sha256", "sha384", "sha1"]

_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha1": hashes.SHA256,  # signed with SHA-256, then re-signed with SHA-1 (see _sign_sha1)
}
_CURVES: dict[int, type[ec.EllipticCurve]] = {256: ec.SECP256R1, 384: ec.SECP384R1}


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CA:
    """A signing certificate authority (root, or intermediate when ``parent`` is set)."""

    cert: x509.Certificate
    key: PrivateKey
    parent: CA | None = None

    @property
    def root(self) -> CA:
        return self if self.parent is None else self.parent.root

    @property
    def intermediates(self) -> tuple[x509.Certificate, ...]:
        """Certificates between a leaf and the root, nearest first (empty for a root)."""
        if self.parent is None:
            return ()
        return (self.cert, *self.parent.intermediates)

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class LeafCert:
    """A server certificate with its key, the chain to serve and the trust anchor."""

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]  # intermediates served after the leaf
    ca: CA  # the CA the *test* trusts (ca.pem); a self-signed leaf is not signed by it

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def fullchain_pem(self) -> bytes:
        return b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in (self.cert, *self.chain)
        )

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def not_after(self) -> datetime:
        return self.cert.not_valid_after_utc


@dataclass(frozen=True)
class CertPaths:
    """Where :func:`write_pem` put things."""

    directory: Path
    fullchain: Path
    privkey: Path
    cert: Path
    ca: Path


def _new_key(key_type: KeyType, key_size: int | None) -> PrivateKey:
    if key_type == "ec":
        size = key_size or 256
        if size not in _CURVES:
            raise ConfigError(f"EC key size {size} is not supported: use 256 or 384")
        return ec.generate_private_key(_CURVES[size]())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size or 2048)
    raise ConfigError(f"key type {key_type!r} is not supported: use 'ec' or 'rsa'")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pytest-prodcheck"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ski(key: PrivateKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def _build_ca(
    common_name: str,
    parent: CA | None,
    days: int,
    key_type: KeyType,
    key_size: int | None,
) -> CA:
    key = _new_key(key_type, key_size)
    now = utcnow()
    issuer_name = _name(common_name) if parent is None else parent.cert.subject
    signer = key if parent is None else parent.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(_ski(key), critical=False)
    )
    if parent is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(parent.key.public_key()),
            critical=False,
        )
    return CA(cert=builder.sign(signer, hashes.SHA256()), key=key, parent=parent)


def make_ca(
    common_name: str = "pytest-prodcheck test CA",
    *,
    days: int = 3650,
    key_type: KeyType = "ec",
    key_size: int | None = None,
) -> CA:
    """A self-signed root CA (EC P-256 by default)."""
    return _build_ca(common_name, None, days, key_type, key_size)


def make_intermediate(
    parent: CA, common_name: str = "pytest-prodcheck intermediate", *, days: int = 1825
) -> CA:
    """An intermediate CA signed by ``parent``; leaves it issues carry it in their chain."""
    return _build_ca(common_name, parent, days, "ec", None)


def _san(names: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def issue_leaf(
    ca: CA,
    names: Sequence[str],
    *,
    days: int = 90,
    not_before: datetime | None = None,
    key_type: KeyType = "ec",
    key_size: int | None = None,
    hash: HashName = "sha256",
    self_signed: bool = False,
    ocsp_url: str | None = None,
    common_name: str | None = None,
) -> LeafCert:
    """A TLS server certificate for ``names`` (SANs; the first is also the CN).

    ``not_before`` defaults to 5 minutes ago; the certificate is valid for ``days`` from then.
    ``self_signed=True`` signs the leaf with its own key (no chain); ``ocsp_url`` adds an
    Authority Information Access OCSP entry (a responder URL, for stapling checks).
    """
    if not names:
        raise ConfigError("a leaf certificate needs at least one name")
    if hash not in _HASHES:
        raise ConfigError(f"hash {hash!r} is not supported: use one of {sorted(_HASHES)}")
    key = _new_key(key_type, key_size)
    start = not_before or (utcnow() - timedelta(minutes=5))
    subject = _name(common_name or names[0])
    issuer_name = subject if self_signed else ca.cert.subject
    signer: PrivateKey = key if self_signed else ca.key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(_san(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=key_type == "rsa",
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_ski(key), critical=False)
    )
    if not self_signed:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    if ocsp_url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(ocsp_url),
                    )
                ]
            ),
            critical=False,
        )
    if hash == "sha1":
        cert = _sign_sha1(builder.sign(signer, hashes.SHA256()), signer)
    else:
        cert = builder.sign(signer, _HASHES[hash]())
    chain = () if self_signed else ca.intermediates
    return LeafCert(cert=cert, key=key, chain=chain, ca=ca.root)


def _sign_sha1(cert: x509.Certificate, signer: PrivateKey) -> x509.Certificate:
    """Re-sign with SHA-1: ``cryptography`` refuses SHA-1 signatures, pyOpenSSL still makes them."""
    from OpenSSL import crypto  # a dependency of sslyze; only needed for this deliberately bad case

    legacy = crypto.X509.from_cryptography(cert)
    legacy.sign(crypto.PKey.from_cryptography_key(signer), "sha1")
    return legacy.to_cryptography()


def write_pem(
    leaf: LeafCert, directory: Path, *, owner: tuple[int, int] | None = None
) -> CertPaths:
    """Write ``fullchain.pem``, ``cert.pem``, ``privkey.pem`` (0600) and ``ca.pem`` (the root).

    ``owner=(uid, gid)`` chowns the key (e.g. to a service user that must read it).
    Files are replaced atomically, so a reloading server never reads half a file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = CertPaths(
        directory=directory,
        fullchain=directory / "fullchain.pem",
        privkey=directory / "privkey.pem",
        cert=directory / "cert.pem",
        ca=directory / "ca.pem",
    )
    replace_file(paths.fullchain, leaf.fullchain_pem(), mode=0o644)
    replace_file(paths.cert, leaf.cert_pem(), mode=0o644)
    replace_file(paths.ca, leaf.ca.cert_pem(), mode=0o644)
    replace_file(paths.privkey, leaf.key_pem(), mode=0o600, owner=owner)
    return paths
