"""``prodcheck init``: a first prodcheck.toml from what a real deployment shows.

The end-to-end case uses the embedded stack as an *external* target (`prodcheck stack up --json`):
init gets the URL, one wildcard resolve entry, the CA bundle and the HTTP URL, and the product
suite then gives GO on the TLS/HTTP smoke items with nothing else configured.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.cli import main
from pytest_prodcheck.commands.init import render_config
from pytest_prodcheck.config import load_settings
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.probes.discover import (
    NameProbe,
    SiteDiscovery,
    candidate_names,
    covered,
    discover_site,
)
from pytest_prodcheck.stack.external import external_endpoints
from tests._tls_servers import Lab

PROBE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("PRODCHECK_")}


def _discovery(**changes: object) -> SiteDiscovery:
    base = dict(
        url="https://shop.example.com",
        apex="shop.example.com",
        cert_names=("shop.example.com", "www.shop.example.com", "api.shop.example.com"),
        names=(
            NameProbe("www.shop.example.com", True, "TLSv1.3 handshake"),
            NameProbe("api.shop.example.com", False, "api.shop.example.com does not resolve"),
        ),
        http_url="http://shop.example.com",
        http_detail="http://shop.example.com/ answered 301",
        static_path="/assets/site.css",
        trusted=True,
        trust_detail="verifies against the system trust store",
    )
    base.update(changes)
    return SiteDiscovery(**base)  # type: ignore[arg-type]


def test_rendered_config_loads_and_names_only_answering_names(tmp_path: Path) -> None:
    text = render_config(
        _discovery(),
        resolve=["*.shop.example.com:*:10.0.0.5"],
        ca_bundle=None,
        default_http_url="http://shop.example.com",
    )
    path = tmp_path / "prodcheck.toml"
    path.write_text(text)
    settings = load_settings(path, env={})  # no ${VAR} needed: DSNs are commented out
    assert settings.target == "external"
    assert settings.resolve == ("*.shop.example.com:*:10.0.0.5",)
    assert settings.site.static_path == "/assets/site.css"
    ep = external_endpoints(settings)
    assert (ep.www, ep.api, ep.monitoring) == ("www.shop.example.com", None, None)
    assert "api.shop.example.com: does not answer (api.shop.example.com does not resolve)" in text
    for placeholder in ("# general_rate = 10", "# body_limit_bytes = 1048576", "${DATABASE_URL}"):
        assert placeholder in text


def test_rendered_config_says_what_was_not_found(tmp_path: Path) -> None:
    text = render_config(
        _discovery(
            http_url=None,
            http_detail="no plain HTTP: http://shop.example.com: refused",
            static_path=None,
            trusted=False,
            trust_detail="does not verify against the system trust store: self-signed",
        ),
        resolve=[],
        ca_bundle=None,
        default_http_url="http://shop.example.com",
    )
    assert '# http_url = "http://shop.example.com"  # NOT FOUND' in text
    assert "# ca_bundle" in text and "NEEDED: the chain does not verify" in text
    assert "# static_path" in text and "NOT FOUND" in text
    path = tmp_path / "prodcheck.toml"
    path.write_text(text)
    load_settings(path, env={})


def test_wildcard_certificate_names() -> None:
    names = ("shop.example.com", "*.shop.example.com")
    assert covered("www.shop.example.com", names)
    assert not covered("a.b.shop.example.com", names)
    assert candidate_names("shop.example.com", names) == (
        "www.shop.example.com",
        "api.shop.example.com",
        "monitoring.shop.example.com",
    )


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab.create()
    try:
        yield lab
    finally:
        lab.close()


def test_discovery_on_a_certificate_without_api_and_monitoring(lab: Lab) -> None:
    target = lab.zoo_target("partial_names")  # cert: shop.test, www.shop.test; no plain HTTP
    d = discover_site(
        target.url,
        resolve=["*.shop.test:*:127.0.0.1"],
        ca_bundle=lab.ca_bundle,
        http_url=None,
    )
    assert d.cert_names == ("shop.test", "www.shop.test")
    assert d.answering() == ("www.shop.test",)
    assert d.site_name("api") is None
    assert d.http_url is None and "no plain HTTP" in d.http_detail
    assert d.trusted


def test_init_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing = tmp_path / "prodcheck.toml"
    existing.write_text("# mine\n")
    assert main(["init", "https://shop.test:8443", "--output", str(existing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists: pass --force" in err
    assert existing.read_text() == "# mine\n"  # nothing lost

    out = tmp_path / "new.toml"
    port = free_port()
    code = main(
        ["init", f"https://shop.test:{port}", "--resolve", f"shop.test:{port}:127.0.0.1",
         "--output", str(out)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1
    assert f"cannot connect to shop.test:{port} (127.0.0.1)" in err
    assert not out.exists()

    assert main(["init", "https://shop.test", "--resolve", "shop.test:*:nowhere"]) == 2
    assert "'nowhere' is not an IP address" in capsys.readouterr().err


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, object]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_prodcheck.cli", "stack", "up", "--json",
         "--no-pebble", "--no-monitoring"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        env=PROBE_ENV,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "prodcheck stack up printed nothing"
        yield json.loads(line)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0


def test_init_then_smoke_gives_go_on_tls_and_http(
    served: dict[str, object], tmp_path: Path
) -> None:
    apex = served["apex"]
    init = subprocess.run(
        [sys.executable, "-m", "pytest_prodcheck.cli", "init", str(served["site_url"]),
         "--resolve", f"*.{apex}:*:127.0.0.1", "--ca-bundle", str(served["ca_bundle"]),
         "--http-url", str(served["http_url"])],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, env=PROBE_ENV,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    assert "wrote prodcheck.toml" in init.stderr
    text = (tmp_path / "prodcheck.toml").read_text()
    assert f'resolve = ["*.{apex}:*:127.0.0.1"]' in text
    for name in ("www", "api", "monitoring"):
        assert f'{name} = "{name}.{apex}"' in text

    # nothing else configured: the toml in the current directory, the installed suite
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "pytest_prodcheck.suites",
         "-p", "no:cacheprovider", "-m", "smoke and (tls or http)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=PROBE_ENV,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert f"config {tmp_path / 'prodcheck.toml'} (from the current directory)" in run.stdout
    report = json.loads((tmp_path / "reports" / "checklist.json").read_text())
    assert report["run"]["target"] == "external"
    assert report["verdict"] == "GO"
    passed = {i["id"] for i in report["items"] if i["status"] == "passed"}
    assert {
        "predeploy.ssl-certificates",
        "predeploy.security-headers",
        "security.https-only",
        "testing.ssl-configuration",
        "performance.gzip",
    } <= passed
