"""Pure parts of the TLS probes: targets and their validation, profiles, suite weaknesses,
name matching (no network)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pytest_prodcheck.config import load_settings
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.probes import tls
from pytest_prodcheck.probes.http.ratelimit import fresh_sources
from pytest_prodcheck.probes.tls.ciphers import weaknesses
from pytest_prodcheck.probes.tls.protocols import allowed_protocols
from pytest_prodcheck.stack.certs import issue_leaf, make_ca
from pytest_prodcheck.stack.endpoints import Endpoints, MissingEndpoint


def test_target_from_args():
    t = tls.SiteTarget.from_args(
        "https://shop.test:8443/",
        http_url="http://shop.test:8080",
        resolve=["shop.test:8443:127.0.0.1", "www.shop.test:8443:[::1]"],
        names=["www.shop.test", "API.shop.test.", "www.shop.test"],
    )
    assert t.url == "https://shop.test:8443"
    assert t.names == ("shop.test", "www.shop.test", "api.shop.test")
    assert (t.www, t.api) == ("www.shop.test", "api.shop.test")
    assert t.address("shop.test", 8443) == "127.0.0.1"
    assert t.address("shop.test", 8080) == "127.0.0.1"  # same host, other port
    assert t.address("www.shop.test", 8443) == "::1"
    assert t.address("api.shop.test", 8443) == "api.shop.test"  # DNS
    assert t.url_for("/x?y=1", host="www.shop.test") == "https://www.shop.test:8443/x?y=1"
    assert t.url_for("/", scheme="http") == "http://shop.test:8080/"
    assert t.api_url == "https://api.shop.test:8443/api/products"
    assert t.is_loopback


def test_http_url_with_another_host_is_where_plain_http_connects():
    t = tls.SiteTarget.from_args(
        "https://shop.test:8443",
        http_url="http://127.0.0.2:8080",
        resolve=["shop.test:8443:127.0.0.1"],
        names=["www.shop.test"],
    )
    assert t.address("www.shop.test", 8080) == "127.0.0.2"  # Host: www.shop.test, to 127.0.0.2
    assert t.address("shop.test", 8080) == "127.0.0.2"
    assert t.address("shop.test", 8443) == "127.0.0.1"  # HTTPS unchanged
    assert t.url_for("/a", host="www.shop.test", scheme="http") == "http://www.shop.test:8080/a"
    named = tls.SiteTarget.from_args(
        "https://shop.test",
        http_url="http://edge.shop.test",
        resolve=["edge.shop.test:80:10.1.2.3"],
    )
    assert named.address("shop.test", 80) == "10.1.2.3"  # the http host's own resolve entry
    www = tls.SiteTarget.from_args(
        "https://shop.test:8443",
        http_url="http://www.shop.test:8080",
        resolve=["www.shop.test:8443:127.0.0.3"],
        names=["www.shop.test"],
    )
    assert www.address("shop.test", 8080) == www.address("www.shop.test", 8080) == "127.0.0.3"


def test_default_http_url_is_port_80_of_the_same_host():
    t = tls.SiteTarget.from_args("https://shop.example.com")
    assert t.http_url == "http://shop.example.com"
    assert t.url_for("/a", scheme="http") == "http://shop.example.com/a"
    assert t.url_for("/a") == "https://shop.example.com/a"
    assert not t.is_loopback


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"url": "http://shop.test"}, "must be an https:// URL"),
        ({"url": "https://"}, "must be an https:// URL"),
        ({"url": "https://shop.test:99999"}, "not a valid URL"),
        ({"url": "https://shop.test/path"}, "without a path"),
        ({"url": "https://shop.test", "http_url": "https://shop.test"}, "--http-url"),
        ({"url": "https://shop.test", "resolve": ["shop.test:443"]}, "expected HOST:PORT:ADDR"),
        ({"url": "https://shop.test", "resolve": ["shop.test:x:1.2.3.4"]}, "not a number"),
        ({"url": "https://shop.test", "resolve": ["shop.test:443:nohost"]}, "not an IP address"),
        ({"url": "https://shop.test", "names": ["bad name"]}, "is not a host name"),
        ({"url": "https://shop.test", "ca_bundle": "/nonexistent/ca.pem"}, "does not exist"),
        ({"url": "https://shop.test", "static_path": "static/app.css"}, "must start with '/'"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs, says):
    url = kwargs.pop("url")
    with pytest.raises(ConfigError, match=says.replace("(", r"\(").replace(".", r"\.")):
        tls.SiteTarget.from_args(url, **kwargs)


def test_ca_bundle_without_certificates_is_rejected(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="holds no PEM certificate"):
        tls.SiteTarget.from_args("https://shop.test", ca_bundle=str(bad))


def test_target_from_endpoints_and_settings():
    settings = load_settings(None, {"tls.min_days": 21, "http.general_rate": 5}, env={})
    ep = Endpoints(
        target="local",
        site_url="https://shop.test:8443",
        http_url="http://shop.test:8080",
        apex="shop.test",
        www="www.shop.test",
        api="api.shop.test",
        monitoring="monitoring.shop.test",
        resolve=("shop.test:8443:127.0.0.1",),
    )
    t = tls.SiteTarget.from_endpoints(ep, settings)
    assert t.names == ("shop.test", "www.shop.test", "api.shop.test", "monitoring.shop.test")
    assert t.expect.min_days == 21 and t.expect.general_rate == 5
    # loopback: the rate-limit probe picks its own 127.x sources ...
    assert not t.shared_client_address and len(set(fresh_sources(t, 2) or ())) == 2
    # ... unless the provider says every client reaches nginx as one address (docker-proxy)
    shared = tls.SiteTarget.from_endpoints(replace(ep, extras={"rate_limit_shared": "1"}))
    assert shared.shared_client_address and fresh_sources(shared, 2) is None
    with pytest.raises(MissingEndpoint, match="site_url"):
        tls.SiteTarget.from_endpoints(Endpoints(target="external"))


def test_profiles_come_from_the_mozilla_guideline():
    p = tls.load_profile("intermediate")
    assert p.version == "5.7" and p.label == "Mozilla intermediate (guideline 5.7)"
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in p.tls12_suites
    assert not any("CBC" in s for s in p.tls12_suites)
    assert allowed_protocols("intermediate") == ("TLSv1.2", "TLSv1.3")
    assert allowed_protocols("modern") == ("TLSv1.3",)
    assert allowed_protocols("old") == ("TLSv1.2", "TLSv1.3")
    with pytest.raises(ConfigError, match="cipher_profile"):
        tls.load_profile("paranoid")


@pytest.mark.parametrize(
    ("suite", "weak"),
    [
        ("TLS_RSA_WITH_AES_128_CBC_SHA", ["static RSA", "CBC"]),
        ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", ["CBC"]),
        ("TLS_RSA_WITH_RC4_128_SHA", ["static RSA", "RC4"]),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", ["static RSA", "CBC", "3DES"]),
        ("TLS_RSA_EXPORT_WITH_RC4_40_MD5", ["static RSA", "RC4", "EXPORT", "MD5"]),
        ("TLS_ECDH_anon_WITH_AES_128_CBC_SHA", ["CBC", "anonymous"]),
        ("TLS_RSA_WITH_NULL_SHA256", ["static RSA", "NULL"]),
        ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", []),
    ],
)
def test_suite_weaknesses(suite, weak):
    assert weaknesses(suite) == weak


def test_protocol_and_cipher_checks_on_synthetic_scans():
    good = tls.TlsScan(
        "shop.test",
        443,
        {
            "TLSv1.2": ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",),
            "TLSv1.3": ("TLS_AES_128_GCM_SHA256",),
        },
    )
    assert tls.check_protocols(good).status == "pass"
    assert tls.check_ciphers(good).status == "pass"
    modern = tls.Expectations(cipher_profile="modern")
    assert tls.check_protocols(good, modern).status == "fail"
    broken = tls.TlsScan("shop.test", 443, {"TLSv1.2": ()}, errors={"TLSv1.3": "timeout"})
    assert tls.check_protocols(broken).status == "error"
    assert tls.check_ciphers(broken).status == "error"
    nothing = tls.TlsScan("shop.test", 443, {})
    assert tls.check_protocols(nothing).status == "fail"
    assert tls.check_key(nothing).status == "error"
    assert tls.check_expiry(nothing).status == "error"
    assert tls.check_ocsp(nothing).status == "error"


def test_name_matching_with_wildcards():
    from pytest_prodcheck.probes.tls.hostname import covers

    ca = make_ca()
    cert = issue_leaf(ca, ["*.shop.test", "shop.test"]).cert
    assert covers(cert, "shop.test")
    assert covers(cert, "www.shop.test") and covers(cert, "API.shop.test.")
    assert not covers(cert, "a.b.shop.test")
    assert not covers(cert, "other.test")
