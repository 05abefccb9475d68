"""The suite's ACME checks, each shown to pass on a good target and fail on one wrong in exactly
that way (real nginx + Pebble for the certificate checks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from pytest_prodcheck import acme
from pytest_prodcheck.acme import checks
from pytest_prodcheck.acme.certinfo import cert_info
from pytest_prodcheck.backup.schedule import FileCrontab, install_job
from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.stack.certs import issue_leaf, make_ca, utcnow
from tests._acme_env import DOMAIN, NAMES, AcmeEnv


@pytest.fixture(scope="module")
def env() -> Iterator[AcmeEnv]:
    e = AcmeEnv.start()
    try:
        yield e
    finally:
        e.stop()


# --- issuer ----------------------------------------------------------------------------------------


def test_issuer_fails_while_a_certificate_from_another_ca_is_served(env: AcmeEnv) -> None:
    samples = [env.served(n) for n in NAMES]  # still the bootstrap certificate
    result = checks.check_issuer(samples, trust=env.roots, expected_issuer=None)
    assert result.status == "fail"
    assert "unable to get local issuer certificate" in result.message
    assert "bootstrap CA" in result.observed


def test_issuer_passes_once_pebble_issued_certificate_is_served(env: AcmeEnv) -> None:
    env.issue_and_wait()
    samples = [env.served(n) for n in NAMES]
    result = checks.check_issuer(samples, trust=env.roots, expected_issuer=r"Pebble Intermediate")
    assert result.status == "pass", result.message
    assert result.message.startswith("4 name(s) verified against CN=Pebble Root CA")


def test_issuer_fails_when_the_ca_is_not_the_expected_one(env: AcmeEnv) -> None:
    env.issue_and_wait()
    samples = [env.served(n) for n in NAMES]
    result = checks.check_issuer(samples, trust=env.roots)  # default: Let's Encrypt expected
    assert result.status == "fail" and "is not the expected CA" in result.message


def test_issuer_of_a_lineage_on_disk(env: AcmeEnv) -> None:
    env.issue_and_wait()
    fullchain = env.live_bytes()[0]
    good = checks.lineage_samples(fullchain, NAMES, trust=env.roots)
    assert checks.check_issuer(good, trust=env.roots, expected_issuer=None).status == "pass"
    other_root = make_tempdir("other-root-") / "root.pem"
    other_root.write_bytes(make_ca("some other CA").cert_pem())
    bad = checks.lineage_samples(fullchain, NAMES, trust=other_root)
    result = checks.check_issuer(bad, trust=other_root, expected_issuer=None)
    assert result.status == "fail" and "shop.test" in result.message
    uncovered = checks.lineage_samples(fullchain, ["shop.test", "cdn.shop.test"], trust=env.roots)
    result = checks.check_issuer(uncovered, trust=env.roots, expected_issuer=None)
    assert result.status == "fail" and "cdn.shop.test: " in result.message
    assert "subjectAltName" in result.message


def test_issuer_with_nothing_to_check_is_an_error() -> None:
    assert checks.check_issuer([], expected_issuer=None).status == "error"


# --- remaining lifetime ----------------------------------------------------------------------------


def _sample(days: int, age_days: float) -> checks.ServedCertificate:
    leaf = issue_leaf(
        make_ca(), ["shop.test"], days=days, not_before=utcnow() - dt.timedelta(days=age_days)
    )
    return checks.ServedCertificate("shop.test", cert_info(leaf.fullchain_pem()), True)


def test_remaining_lifetime_passes_on_a_fresh_certificate() -> None:
    result = checks.check_remaining_lifetime(_sample(90, 1))
    assert result.status == "pass" and result.observed.startswith("89.0 of 90.0 days left")


def test_remaining_lifetime_fails_below_a_third() -> None:
    result = checks.check_remaining_lifetime(_sample(90, 70))  # 20 days = 22 % left
    assert result.status == "fail" and "renewal is overdue" in result.message


def test_remaining_lifetime_fails_below_min_days_even_with_a_third_left() -> None:
    result = checks.check_remaining_lifetime(_sample(10, 1), min_days=14)  # 9 of 10 days
    assert result.status == "fail"


def test_remaining_lifetime_of_the_served_pebble_certificate(env: AcmeEnv) -> None:
    env.issue_and_wait()
    assert checks.check_remaining_lifetime(env.served("api.shop.test")).status == "pass"
    failed = checks.ServedCertificate("x.test", None, False, "TLSV1_UNRECOGNIZED_NAME")
    assert checks.check_remaining_lifetime(failed).status == "error"


# --- renewal (dry run) -----------------------------------------------------------------------------


def test_renewal_dry_run_passes_and_fails_when_challenges_cannot_be_served(env: AcmeEnv) -> None:
    env.issue_and_wait()
    assert checks.check_renewal(acme.renew(env.store, dry_run=True)).status == "pass"
    config = env.store.load_config(DOMAIN)
    unserved = make_tempdir("unserved-")
    env.store.save_config(acme.RenewalConfig(**{**config.__dict__, "webroot": str(unserved)}))
    try:
        result = checks.check_renewal(acme.renew(env.store, dry_run=True))
    finally:
        env.store.save_config(config)
    assert result.status == "fail" and "HTTP-01 validation of" in result.message
    assert checks.check_renewal([]).status == "error"


# --- renewal scheduled ------------------------------------------------------------------------------

GUIDE_LINE = (
    "0 3 * * * cd /path/to/project && ./scripts/renew_ssl.sh >> /var/log/ssl_renewal.log 2>&1"
)


@pytest.mark.parametrize(
    ("crontab", "status"),
    [
        (GUIDE_LINE, "pass"),
        ("SHELL=/bin/sh\n# certs\n@daily prodcheck ssl renew\n", "pass"),
        ("17 */12 * * * certbot renew --quiet\n", "pass"),
        ("0 3 * * 0 prodcheck ssl renew\n", "fail"),  # weekly
        ("0 3 1 * * prodcheck ssl renew\n", "fail"),  # monthly
        ("0 2 * * * prodcheck backup --all\n", "fail"),  # only the backup job
        ("", "fail"),
        ("# 0 3 * * * prodcheck ssl renew\n", "fail"),  # commented out
    ],
)
def test_renewal_scheduled(crontab: str, status: str) -> None:
    assert checks.check_renewal_scheduled(crontab).status == status


def test_renewal_scheduled_through_the_cron_api() -> None:
    tab = FileCrontab(make_tempdir("crontab-") / "crontab")
    assert checks.check_renewal_scheduled(tab.read(), source=tab.description).status == "fail"
    install_job("ssl-renew", "0 3 * * *", "prodcheck ssl renew", log="/var/log/x.log", backend=tab)
    result = checks.check_renewal_scheduled(tab.read(), source=tab.description)
    assert result.status == "pass" and "0 3 * * * prodcheck ssl renew" in result.observed
