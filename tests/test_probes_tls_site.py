"""All checks of one site together (``run_site_checks``): the good reference server passes
everything (OCSP n/a: no responder), a bad one fails, an unreachable one raises."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.probes import site_checks, tls, tls_site
from tests._tls_servers import Lab


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab.create()
    try:
        yield lab
    finally:
        lab.close()


def test_good_site_passes_every_check(lab):
    report = tls_site.run_site_checks(lab.site("good"))
    statuses = {c.id: c.status for c in report.checks}
    assert list(statuses) == list(tls_site.CHECK_IDS)
    assert statuses.pop("tls.ocsp-stapling") == "n/a"
    assert set(statuses.values()) == {"pass"}, [c for c in report.checks if not c.ok]
    assert report.exit_code == 0
    data = report.to_dict()
    assert data["schema_version"] == 1 and data["target"] == lab.site("good").url
    assert set(data["checks"][0]) == {"id", "status", "observed", "expected", "message"}
    json.dumps(data)  # JSON-able


def test_a_bad_site_exits_1(lab):
    report = tls_site.run_site_checks(lab.site("no_gzip", gzip=False))
    failed = [c.id for c in report.checks if c.status == "fail"]
    assert failed == ["http.gzip"]
    assert report.exit_code == 1


def test_only_selected_checks(lab):
    report = tls_site.run_site_checks(lab.site("good"), only={"tls.protocols", "http.gzip"})
    assert [c.id for c in report.checks] == ["tls.protocols", "http.gzip"]
    with pytest.raises(ConfigError, match="unknown check id"):
        tls_site.run_site_checks(lab.site("good"), only={"tls.nope"})


def test_unreachable_site_raises_one_clear_error():
    port = free_port()
    target = tls.SiteTarget.from_args(
        f"https://shop.test:{port}", resolve=[f"shop.test:{port}:127.0.0.1"]
    )
    with pytest.raises(
        TargetUnreachable,
        match=r"cannot connect to shop.test:\d+ \(127.0.0.1\): Connection refused",
    ):
        tls_site.run_site_checks(target)


def test_a_check_that_cannot_run_is_an_error_and_exit_3(lab):
    """Plain HTTP down but HTTPS fine: the redirect check errors, the others still run."""
    good = lab.site("good")
    target = tls.SiteTarget.from_args(
        good.url,
        http_url=f"http://shop.test:{free_port()}",
        resolve=[f"{h}:{p}:{a}" for h, p, a in good.resolve],
        ca_bundle=lab.ca_bundle,
    )
    report = tls_site.run_site_checks(target, only={"http.https-redirect", "tls.protocols"})
    statuses = {c.id: c.status for c in report.checks}
    assert statuses == {"tls.protocols": "pass", "http.https-redirect": "error"}
    assert report.exit_code == 3


def test_a_broken_scanner_makes_the_tls_checks_error_not_crash(lab, monkeypatch):
    def boom(*_a, **_k):
        raise RuntimeError("nassl exploded")

    monkeypatch.setattr(site_checks, "scan_tls", boom)
    report = tls_site.run_site_checks(
        lab.site("good"), only={"tls.protocols", "tls.cert.key", "http.server-banner"}
    )
    statuses = {c.id: (c.status, c.message) for c in report.checks}
    assert statuses["tls.protocols"] == ("error", "TLS scan failed: RuntimeError: nassl exploded")
    assert statuses["tls.cert.key"][0] == "error"
    assert statuses["http.server-banner"][0] == "pass"
    assert report.exit_code == 3
