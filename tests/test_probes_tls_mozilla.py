"""Mozilla's profile beyond suites, against real nginx servers of the TLS zoo: key-exchange groups
(a server offering X448/secp521r1 fails intermediate) and the leaf certificate's type/signature.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from pytest_prodcheck.probes import tls
from pytest_prodcheck.probes.tls.mozilla import (
    check_cert_profile,
    check_groups,
    nginx_ecdh_curve,
)
from pytest_prodcheck.probes.tls.profiles import load_profile
from tests._tls_servers import Lab


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab.create()
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture(scope="module")
def zoo(lab: Lab) -> Callable[[str], tls.TlsScan]:
    cache: dict[str, tls.TlsScan] = {}

    def get(block: str) -> tls.TlsScan:
        if block not in cache:
            cache[block] = tls.scan_tls(lab.zoo_target(block), suites=False)
        return cache[block]

    return get


INTERMEDIATE = tls.Expectations()
MODERN = tls.Expectations(cipher_profile="modern")


def test_profile_carries_groups_and_certificate_policy() -> None:
    p = load_profile("intermediate")
    assert p.tls_curves == ("X25519", "secp256r1", "secp384r1")
    assert "sha256WithRSAEncryption" in p.certificate_signatures
    assert load_profile("modern").certificate_types == ("ecdsa",)
    assert nginx_ecdh_curve(p) == "X25519:prime256v1:secp384r1"


@pytest.mark.parametrize("expect", [INTERMEDIATE, MODERN], ids=["intermediate", "modern"])
def test_groups_pass_on_the_good_server(zoo, expect) -> None:
    result = check_groups(zoo("good"), expect)
    assert result.status == "pass", result
    assert result.observed == "X25519, secp256r1, secp384r1"
    assert f"Mozilla {expect.cipher_profile} (guideline" in result.expected


def test_groups_fail_on_a_server_offering_weak_groups(zoo) -> None:
    result = check_groups(zoo("weak_groups"))
    assert result.status == "fail", result
    assert "X448" in result.observed and "secp521r1" in result.observed
    assert result.message.startswith(
        "groups outside Mozilla intermediate (guideline 5.7): X448, secp521r1"
    )
    assert "ssl_ecdh_curve X25519:prime256v1:secp384r1" in result.message


def test_groups_error_when_not_scanned(zoo) -> None:
    from dataclasses import replace

    unscanned = replace(zoo("good"), groups=None, errors={"groups": "timed out"})
    result = check_groups(unscanned)
    assert result.status == "error" and "timed out" in result.message


def test_certificate_profile_passes_for_an_ecdsa_leaf(zoo) -> None:
    for expect in (INTERMEDIATE, MODERN):
        result = check_cert_profile(zoo("good"), expect)
        assert result.status == "pass", result
        assert result.observed == "ecdsa secp256r1, signed ecdsa-with-SHA256"


def test_rsa_leaf_is_intermediate_but_not_modern(zoo) -> None:
    scan = zoo("rsa_leaf")
    assert check_cert_profile(scan, INTERMEDIATE).status == "pass"
    result = check_cert_profile(scan, MODERN)
    assert result.status == "fail"
    assert "leaf outside Mozilla modern" in result.message
    assert "a rsa certificate (the profile wants ecdsa)" in result.message


def test_sha1_signed_leaf_fails(zoo) -> None:
    result = check_cert_profile(zoo("sha1"))
    assert result.status == "fail"
    assert "signed ecdsa-with-SHA1 (the profile accepts" in result.message


def test_site_checks_report_the_groups_of_a_weak_server(lab) -> None:
    from pytest_prodcheck.probes.tls_site import CHECK_IDS, run_site_checks

    assert {"tls.groups", "tls.cert.profile"} <= set(CHECK_IDS)
    report = run_site_checks(lab.zoo_target("weak_groups"), only={"tls.groups", "tls.cert.profile"})
    status = {c.id: c.status for c in report.checks}
    assert status == {"tls.cert.profile": "pass", "tls.groups": "fail"}
    assert report.exit_code == 1


def test_every_profile_judgement_names_the_profile(zoo) -> None:
    from pytest_prodcheck.probes.tls.protocols import check_protocols

    for expect in (INTERMEDIATE, MODERN):
        label = load_profile(expect.cipher_profile).label
        for result in (
            check_protocols(zoo("good"), expect),
            check_groups(zoo("good"), expect),
            check_cert_profile(zoo("good"), expect),
        ):
            assert label in result.expected, result


def test_the_table_has_both_rows_for_the_cli_and_the_suite() -> None:
    from pytest_prodcheck.probes.site_checks import SITE_CHECKS

    ids = SITE_CHECKS.ids()
    assert ids.index("tls.cert.profile") == ids.index("tls.cert.key") + 1
    assert ids.index("tls.groups") == ids.index("tls.cert.profile") + 1
    tls_rows = {s.id: s for s in SITE_CHECKS.marked("tls")}  # suites/test_tls.py: test_check[id]
    for cid in ("tls.cert.profile", "tls.groups"):
        assert tls_rows[cid].group == "scan" and "smoke" in tls_rows[cid].markers
        assert "testing.ssl-configuration" in tls_rows[cid].items
