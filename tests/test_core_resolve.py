"""curl-style resolve entries with wildcards: parsing, precedence, every place that reads them."""

from __future__ import annotations

import pytest

from pytest_prodcheck.config import load_settings
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.resolve import ANY_PORT, ResolveEntry, ResolveMap, parse_resolve
from pytest_prodcheck.load.api import target_from_endpoints
from pytest_prodcheck.probes.tls.target import SiteTarget
from pytest_prodcheck.stack.endpoints import Endpoints


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("shop.test:443:127.0.0.1", ResolveEntry("shop.test", 443, "127.0.0.1")),
        ("Shop.Test.:443:[::1]", ResolveEntry("shop.test", 443, "::1")),
        ("*.shop.example.com:*:10.0.0.5", ResolveEntry("*.shop.example.com", ANY_PORT, "10.0.0.5")),
        ("*:8443:10.0.0.6", ResolveEntry("*", 8443, "10.0.0.6")),
    ],
)
def test_parse(text: str, entry: ResolveEntry) -> None:
    assert parse_resolve(text) == entry
    host, port, addr = parse_resolve(text)  # unpacks like the old (host, port, addr) tuples
    assert (host, port, addr) == tuple(entry)


def test_str_round_trips() -> None:
    for text in ("*.shop.test:*:10.0.0.5", "api.shop.test:443:[::1]", "shop.test:80:127.0.0.1"):
        assert str(parse_resolve(text)) == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("shop.test:443", "expected HOST:PORT:ADDR"),
        ("shop.test:http:10.0.0.5", "port 'http' is not a number from 1 to 65535 or *"),
        ("shop.test:0:10.0.0.5", "port '0'"),
        ("shop.test:443:shop.internal", "'shop.internal' is not an IP address"),
        ("**.shop.test:443:10.0.0.5", "is not a host name, '*.<domain>' or '*'"),
        ("shop.*.test:443:10.0.0.5", "is not a host name"),
    ],
)
def test_bad_entries_name_the_form(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match="--resolve") as info:
        parse_resolve(text)
    assert says in str(info.value)
    assert "*.shop.example.com:*:10.0.0.5" in str(info.value) or "port" in says


def test_precedence() -> None:
    rmap = ResolveMap.parse(
        [
            "*:*:10.0.0.1",
            "*.example.com:*:10.0.0.2",
            "*.shop.example.com:*:10.0.0.3",
            "*.shop.example.com:80:10.0.0.4",
            "api.shop.example.com:*:10.0.0.5",
            "www.shop.example.com:443:10.0.0.6",
        ]
    )
    assert rmap.lookup("www.shop.example.com", 443) == "10.0.0.6"  # exact name and port
    assert rmap.lookup("www.shop.example.com", 80) == "10.0.0.6"  # exact name, other port
    assert rmap.lookup("api.shop.example.com", 9000) == "10.0.0.5"  # exact name, any port
    assert rmap.lookup("shop.example.com", 443) == "10.0.0.3"  # the wildcard's own domain
    assert rmap.lookup("monitoring.shop.example.com", 80) == "10.0.0.4"  # wildcard, exact port
    assert rmap.lookup("blog.example.com", 443) == "10.0.0.2"  # the longest wildcard
    assert rmap.lookup("other.test", 443) == "10.0.0.1"  # '*'
    assert ResolveMap().lookup("shop.test", 443) is None
    assert ResolveMap().address("shop.test", 443) == "shop.test"


def test_dict_face_for_older_callers() -> None:
    rmap = ResolveMap.parse(["*.shop.test:*:127.0.0.1"])
    assert rmap.get(("www.shop.test", 8443), "x") == "127.0.0.1"
    assert rmap.get(("other.test", 8443), "other.test") == "other.test"
    assert list(rmap.values()) == ["127.0.0.1"] and bool(rmap)
    assert rmap.pinned("shop.test") == "127.0.0.1"


def test_site_target_one_entry_covers_every_name_and_port() -> None:
    target = SiteTarget.from_args(
        "https://shop.example.com:8443",
        http_url="http://shop.example.com:8080",
        resolve=["*.shop.example.com:*:10.0.0.5"],
        names=["www.shop.example.com", "api.shop.example.com"],
    )
    for name in target.names:
        for port in (8443, 8080):
            assert target.address(name, port) == "10.0.0.5"
    assert target.address("elsewhere.test", 443) == "elsewhere.test"


def test_endpoints_and_load_read_wildcards() -> None:
    ep = Endpoints(
        "external", site_url="https://shop.test:8443", resolve=("*.shop.test:*:127.0.0.1",)
    )
    assert ep.resolve_map().lookup("www.shop.test", 8443) == "127.0.0.1"
    assert target_from_endpoints("https://shop.test:8443", ep.resolve) == (
        "https://127.0.0.1:8443",
        "shop.test",
    )


def test_config_accepts_wildcards_and_rejects_garbage(tmp_path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('resolve = ["*.shop.example.com:*:10.0.0.5"]\n')
    assert load_settings(good).resolve == ("*.shop.example.com:*:10.0.0.5",)
    bad = tmp_path / "bad.toml"
    bad.write_text('resolve = ["shop.example.com:*:not-an-ip"]\n')
    with pytest.raises(ConfigError, match=r"resolve = 'shop.example.com:\*:not-an-ip'"):
        load_settings(bad)
