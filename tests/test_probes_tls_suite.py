"""The product suites ``suites/test_tls.py`` and ``suites/test_http.py`` run by pytest against a
real site (the reference nginx, as an ``external`` target): all pass on the good configuration,
the matching test fails on a bad one, and the checklist report carries the evidence."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.probes.tls import SiteTarget
from tests._tls_servers import Lab

ROOT = Path(__file__).resolve().parent.parent
SUITES = [str(ROOT / "suites" / "test_tls.py"), str(ROOT / "suites" / "test_http.py")]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab.create()
    try:
        yield lab
    finally:
        lab.close()


def run_suites(
    target: SiteTarget, ca_bundle: str, report_dir: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    args = [
        sys.executable,
        "-m",
        "pytest",
        *SUITES,
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:locust",
        "--prodcheck-url",
        target.url,
        "--prodcheck-http-url",
        target.http_url,
        "--prodcheck-ca-bundle",
        ca_bundle,
        "--prodcheck-report-dir",
        str(report_dir),
        *extra,
    ]
    for host, port, addr in target.resolve:
        args += ["--prodcheck-resolve", f"{host}:{port}:{addr}"]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_suites_pass_on_the_good_site_with_evidence(lab, tmp_path):
    res = run_suites(lab.site("good"), lab.ca_bundle, tmp_path)
    assert res.returncode == 0, res.stdout[-3000:]
    assert "22 passed" in res.stdout
    report = json.loads((tmp_path / "checklist.json").read_text())
    items = {i["id"]: i for i in report["items"]}
    for item_id in (
        "predeploy.ssl-certificates",
        "predeploy.security-headers",
        "security.https-only",
        "security.rate-limiting",
        "performance.gzip",
        "testing.ssl-configuration",
        "predeploy.dns",
    ):
        assert items[item_id]["status"] == "passed", items[item_id]
        assert items[item_id]["evidence"], item_id
    names = {e["name"] for e in items["testing.ssl-configuration"]["evidence"]}
    assert {
        "tls.protocols",
        "tls.ciphers",
        "tls.ocsp-stapling",
        "tls.alpn-h2",
        "tls.groups",
    } <= names


def test_smoke_selection_on_a_bad_site_fails_the_matching_test(lab, tmp_path):
    res = run_suites(lab.site("no_gzip", gzip=False), lab.ca_bundle, tmp_path, "-m", "smoke")
    assert res.returncode == 1, res.stdout[-3000:]
    assert "FAILED" in res.stdout and "test_check[http.gzip]" in res.stdout
    # smoke = every cheap check: all but OCSP stapling and the rate-limit burst
    assert "1 failed, 19 passed" in res.stdout and "tls.ocsp-stapling" not in res.stdout
    report = json.loads((tmp_path / "checklist.json").read_text())
    gzip_item = next(i for i in report["items"] if i["id"] == "performance.gzip")
    assert gzip_item["status"] == "failed"
    assert "not gzip-encoded" in gzip_item["evidence"][0]["message"]
    # the checklist link comes from the table row: one parametrised test per check id
    assert [t["nodeid"].split("::")[-1] for t in gzip_item["tests"]] == ["test_check[http.gzip]"]
    assert "http.gzip: " in gzip_item["tests"][0]["message"]
