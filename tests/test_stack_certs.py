"""stack/certs.py: good and deliberately bad certificates, checked with openssl itself."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.stack.certs import (
    CA,
    CertPaths,
    issue_leaf,
    make_ca,
    make_intermediate,
    utcnow,
    write_pem,
)

NAMES = ["shop.test", "www.shop.test", "api.shop.test", "monitoring.shop.test"]


@pytest.fixture(scope="module")
def ca() -> CA:
    return make_ca("test CA")


def _verify(paths: CertPaths, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "verify", "-CAfile", str(paths.ca), *extra, str(paths.cert)],
        capture_output=True,
        text=True,
    )


def test_good_leaf_verifies_with_names_and_files(ca: CA, tmp_path: Path) -> None:
    leaf = issue_leaf(ca, NAMES)
    paths = write_pem(leaf, tmp_path)
    assert _verify(paths).returncode == 0
    san = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == NAMES
    assert isinstance(leaf.key, ec.EllipticCurvePrivateKey)
    assert leaf.cert.signature_hash_algorithm is not None
    assert leaf.cert.signature_hash_algorithm.name == "sha256"
    lifetime = leaf.cert.not_valid_after_utc - leaf.cert.not_valid_before_utc
    assert lifetime == timedelta(days=90)
    assert paths.privkey.stat().st_mode & 0o777 == 0o600
    assert paths.fullchain.read_bytes() == leaf.cert_pem()  # root-issued: leaf only


def test_expired_leaf_fails_verification(ca: CA, tmp_path: Path) -> None:
    leaf = issue_leaf(ca, NAMES, not_before=utcnow() - timedelta(days=100), days=90)
    res = _verify(write_pem(leaf, tmp_path))
    assert res.returncode != 0 and "expired" in res.stdout + res.stderr


def test_expiring_in_three_days(ca: CA) -> None:
    leaf = issue_leaf(ca, NAMES, not_before=utcnow() - timedelta(days=87), days=90)
    left = leaf.not_after - utcnow()
    assert timedelta(days=2, hours=23) < left <= timedelta(days=3)


def test_wrong_names_fail_hostname_check(ca: CA, tmp_path: Path) -> None:
    paths = write_pem(issue_leaf(ca, ["other.test"]), tmp_path)
    assert _verify(paths, "-verify_hostname", "other.test").returncode == 0
    assert _verify(paths, "-verify_hostname", "shop.test").returncode != 0


def test_weak_rsa_1024_sha1(ca: CA, tmp_path: Path) -> None:
    leaf = issue_leaf(ca, NAMES, key_type="rsa", key_size=1024, hash="sha1")
    assert isinstance(leaf.key, rsa.RSAPrivateKey) and leaf.key.key_size == 1024
    assert leaf.cert.signature_hash_algorithm is not None
    assert leaf.cert.signature_hash_algorithm.name == "sha1"
    # still a correct signature by the CA (only weak), and the SAN survived re-signing
    assert _verify(write_pem(leaf, tmp_path), "-auth_level", "0").returncode == 0
    san = leaf.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == NAMES


def test_self_signed_is_not_trusted_by_the_ca(ca: CA, tmp_path: Path) -> None:
    leaf = issue_leaf(ca, NAMES, self_signed=True)
    assert leaf.cert.issuer == leaf.cert.subject
    res = _verify(write_pem(leaf, tmp_path))
    assert res.returncode != 0


def test_intermediate_chain_and_ocsp_url(ca: CA, tmp_path: Path) -> None:
    inter = make_intermediate(ca)
    leaf = issue_leaf(inter, NAMES, ocsp_url="http://127.0.0.1:9/ocsp")
    paths = write_pem(leaf, tmp_path)
    assert paths.fullchain.read_bytes().count(b"BEGIN CERTIFICATE") == 2
    assert paths.ca.read_bytes() == ca.cert_pem()
    assert _verify(paths).returncode != 0  # intermediate missing
    assert _verify(paths, "-untrusted", str(paths.fullchain)).returncode == 0
    aia = leaf.cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert aia[0].access_method == AuthorityInformationAccessOID.OCSP


def test_bad_parameters_are_config_errors(ca: CA) -> None:
    with pytest.raises(ConfigError, match="EC key size"):
        issue_leaf(ca, NAMES, key_size=1024)
    with pytest.raises(ConfigError, match="at least one name"):
        issue_leaf(ca, [])
