"""Load through nginx with TLS by address: Host header + SNI + CA verification (resolve map)."""

from __future__ import annotations

import shutil

import pytest
from _load_target import Target, tls_nginx

from pytest_prodcheck.config import load_settings
from pytest_prodcheck.load.api import execute, plan_load, target_from_endpoints

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None and not
                                __import__("os").path.exists("/usr/sbin/nginx"),
                                reason="nginx is not installed")  # fmt: skip


@pytest.fixture(scope="module")
def site():
    with Target("--delay", "/api/ai/=50") as target:
        server, https_url, _, ca = tls_nginx(target.url.removeprefix("http://"))
        try:
            yield https_url, ca
        finally:
            server.stop()


def _outcome(tmp_path, https_url, ca, host_header):
    port = https_url.rsplit(":", 1)[1]
    host, header = target_from_endpoints(f"https://{host_header}:{port}",
                                         (f"{host_header}:{port}:127.0.0.1",))  # fmt: skip
    assert host == https_url and header == host_header
    settings = load_settings(None, {"load.wait_min": 0.05, "load.wait_max": 0.2,
                                    "load.min_rps": 10}, env={})  # fmt: skip
    plan = plan_load(settings, "smoke", host=host, host_header=header, ca_bundle=ca,
                     duration_s=2, users=4, out_dir=tmp_path)  # fmt: skip
    return execute(plan)


def test_journey_through_nginx_tls_by_address(site, tmp_path):
    https_url, ca = site
    outcome = _outcome(tmp_path, https_url, ca, "shop.test")
    assert outcome.ok, outcome.lines()
    assert outcome.run.stats.total().count > 10  # (the 2 s window can end early on a busy box)


def test_wrong_name_fails_verification(site, tmp_path):
    """The certificate is for shop.test: SNI/verification really use the Host name."""
    https_url, ca = site
    outcome = _outcome(tmp_path, https_url, ca, "other.test")
    v = {x.threshold.id: x for x in outcome.verdicts}
    assert not v["load.error_rate"].ok and v["load.error_rate"].observed == 1.0
    assert any("CERTIFICATE_VERIFY_FAILED" in str(e.get("error")) or "hostname" in
               str(e.get("error")).lower() for e in outcome.run.errors)  # fmt: skip


def test_credentials_in_a_resolved_site_url_are_refused_like_any_other():
    """A resolve entry used to drop ``user:secret@`` silently (the run went on unauthenticated)."""
    from pytest_prodcheck.core.errors import ConfigError
    from pytest_prodcheck.load.runner import check_reachable

    host, header = target_from_endpoints("https://admin:Zq9secret@shop.test:8443",
                                         ("shop.test:8443:127.0.0.1",))  # fmt: skip
    assert (host, header) == ("https://admin:Zq9secret@127.0.0.1:8443", "shop.test")
    with pytest.raises(ConfigError, match="credentials in the load URL") as info:
        check_reachable(host)
    assert "Zq9secret" not in str(info.value)
