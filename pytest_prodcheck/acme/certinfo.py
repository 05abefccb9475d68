"""Read what matters out of a PEM certificate chain.

>>> info = cert_info(Path("live/shop.test/fullchain.pem").read_bytes())
>>> info.names, info.issuer_cn, info.not_after
(('shop.test', 'www.shop.test', ...), 'Pebble Intermediate CA 3a1f9c', datetime(...))
>>> key_matches(fullchain_pem, privkey_pem)
True
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from pytest_prodcheck.core.errors import ToolError


@dataclass(frozen=True)
class CertInfo:
    names: tuple[str, ...]  # DNS SANs, in certificate order
    subject_cn: str
    issuer_cn: str
    issuer: str  # RFC 4514 string of the issuer
    serial: int
    not_before: dt.datetime  # aware, UTC
    not_after: dt.datetime
    chain_length: int  # certificates in the PEM (2 = leaf + intermediate)

    @property
    def lifetime(self) -> dt.timedelta:
        return self.not_after - self.not_before

    def remaining(self, now: dt.datetime | None = None) -> dt.timedelta:
        return self.not_after - (now or dt.datetime.now(dt.UTC))

    def covers(self, names: tuple[str, ...] | list[str]) -> bool:
        return set(names) <= set(self.names)


def load_chain(pem: bytes) -> list[x509.Certificate]:
    """All certificates of a PEM bundle, leaf first; :class:`ToolError` if there is none."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ToolError(f"not a PEM certificate chain: {exc}") from None
    return certs


def _cn(name: x509.Name) -> str:
    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def cert_info(pem: bytes) -> CertInfo:
    """:class:`CertInfo` of the first (leaf) certificate of ``pem``."""
    chain = load_chain(pem)
    leaf = chain[0]
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return CertInfo(
        names=names,
        subject_cn=_cn(leaf.subject),
        issuer_cn=_cn(leaf.issuer),
        issuer=leaf.issuer.rfc4514_string(),
        serial=leaf.serial_number,
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        chain_length=len(chain),
    )


def key_matches(fullchain_pem: bytes, privkey_pem: bytes) -> bool:
    """True if ``privkey_pem`` is the private key of the leaf of ``fullchain_pem``."""
    leaf = load_chain(fullchain_pem)[0]
    try:
        key = serialization.load_pem_private_key(privkey_pem, password=None)
    except (ValueError, TypeError):
        return False
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return bool(key.public_key().public_bytes(der, fmt) == leaf.public_key().public_bytes(der, fmt))


__all__ = ["CertInfo", "cert_info", "key_matches", "load_chain"]
