"""HTTP hardening checks against the reference nginx (the stack's template): each passes on the
good configuration and fails on one that is wrong in exactly its way (one NginxOptions knob)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes import http, tls
from pytest_prodcheck.probes.http.client import Session, fetch
from pytest_prodcheck.probes.http.ratelimit import MAX_DRAIN_S, ZoneResult, drain_wait
from tests._tls_servers import Lab


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab.create()
    try:
        yield lab
    finally:
        lab.close()


def page_check(
    fn: Callable[[http.PageSet], CheckResult],
) -> Callable[[tls.SiteTarget], CheckResult]:
    return lambda target: fn(http.fetch_pages(target))


CHECKS: dict[str, Callable[[tls.SiteTarget], CheckResult]] = {
    "http.https-redirect": http.check_https_redirect,
    "http.www-redirect": http.check_www_redirect,
    "headers.hsts": lambda t: http.check_hsts(http.fetch_pages(t), t.expect),
    "headers.x-frame-options": page_check(http.check_x_frame_options),
    "headers.x-content-type-options": page_check(http.check_x_content_type_options),
    "headers.csp": page_check(http.check_csp),
    "http.gzip": page_check(http.check_gzip),
    "http.static-cache": http.check_static_cache,
    "http.keepalive": http.check_keepalive,
    "http.rate-limit": http.check_rate_limit,
    "http.body-limit": http.check_body_limit,
    "http.server-banner": page_check(http.check_server_banner),
}


@pytest.mark.parametrize("check_id", list(CHECKS))
def test_passes_on_the_good_server(lab, check_id):
    result = CHECKS[check_id](lab.site("good"))
    assert result.status == "pass", result
    assert result.id == check_id and result.observed and result.expected


# (check, variant name, NginxOptions changes, what the message must say)
BAD: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "http.https-redirect",
        "no_redirect",
        {"redirect_https": False},
        "shop.test: does not redirect: /prodcheck/redirect-check?probe=1 (a made-up probe path",
    ),
    (
        "http.www-redirect",
        "no_www_redirect",
        {"redirect_www": False},
        "www.shop.test: does not redirect: /prodcheck/redirect-check?probe=1 (a made-up probe",
    ),
    ("headers.hsts", "no_headers", {"security_headers": False, "hsts": False}, "/ (missing)"),
    ("headers.hsts", "short_hsts", {"hsts_max_age": 86400}, "max-age 86400 < 63072000"),
    (
        "headers.x-frame-options",
        "no_headers",
        {"security_headers": False, "hsts": False},
        "(missing)",
    ),
    (
        "headers.x-content-type-options",
        "no_headers",
        {"security_headers": False, "hsts": False},
        "(missing)",
    ),
    ("headers.csp", "no_headers", {"security_headers": False, "hsts": False}, "(missing)"),
    (
        "headers.csp",
        "lax_csp",
        {"csp": "default-src *"},
        "default-src (as script-src) * allows scripts from any host",
    ),
    (
        "headers.csp",
        "inline_csp",
        {"csp": "default-src 'self' 'unsafe-inline' data:; object-src 'none'"},
        "default-src (as script-src) 'unsafe-inline' without a nonce or hash",
    ),
    # add_header in the static location drops every inherited header: only that page fails
    (
        "headers.hsts",
        "static_drops_headers",
        {"static_reinclude_headers": False},
        "on: static /static/app.css (missing)",
    ),
    (
        "headers.x-frame-options",
        "static_drops_headers",
        {"static_reinclude_headers": False},
        "on: static /static/app.css (missing)",
    ),
    (
        "headers.x-content-type-options",
        "static_drops_headers",
        {"static_reinclude_headers": False},
        "on: static /static/app.css (missing)",
    ),
    (
        "headers.csp",
        "static_drops_headers",
        {"static_reinclude_headers": False},
        "on: static /static/app.css (missing)",
    ),
    ("http.gzip", "no_gzip", {"gzip": False}, "not gzip-encoded"),
    ("http.static-cache", "no_static_cache", {"static_cache": False}, "is not long-lived"),
    ("http.keepalive", "no_keepalive", {"keepalive": False}, "connections are not reused"),
    (
        "http.rate-limit",
        "no_rate_limit",
        {"rate_limit_exempt": ("127.0.0.0/8",)},
        "none refused (no limit_req)",
    ),
    (
        "http.rate-limit",
        "strict_rate_limit",
        {"rate_limit_general": 1, "burst_general": 1, "rate_limit_api": 1, "burst_api": 1},
        "was refused (limit too strict)",
    ),
    (
        "http.body-limit",
        "big_body_limit",
        {"body_limit": "10m"},
        "set [http] body_limit_bytes to it (in bytes), else set client_max_body_size 1m",
    ),
    ("http.body-limit", "no_body_limit", {"body_limit": "0"}, "was accepted (201), not refused"),
    ("http.server-banner", "banner", {"server_tokens": True}, "Server reveals a version: nginx/"),
]


@pytest.mark.parametrize(
    ("check_id", "variant", "changes", "says"), BAD, ids=[f"{c}-{v}" for c, v, _, _ in BAD]
)
def test_fails_on_its_bad_server(lab, check_id, variant, changes, says):
    result = CHECKS[check_id](lab.site(variant, **changes))
    assert result.status == "fail", result
    assert says in result.message, result.message


def test_header_dropped_in_one_location_keeps_other_pages_passing(lab):
    pages = http.fetch_pages(lab.site("static_drops_headers", static_reinclude_headers=False))
    result = http.check_x_frame_options(pages)
    assert "/: DENY" in result.observed and "static /static/app.css: missing" in result.observed


def test_rate_limit_probe_does_not_poison_other_clients(lab):
    """The probe drains the buckets of its own fresh 127.x source, nobody else's: the default
    client (127.0.0.1, exempt in the stack) and a second probe right after both still pass."""
    target = lab.site("good")
    assert http.check_rate_limit(target).status == "pass"
    with Session(target) as session:
        statuses = {session.request("GET", target.url_for("/")).status for _ in range(30)}
    assert statuses == {200}
    again = http.check_rate_limit(target)
    assert again.status == "pass", again


def test_rate_limit_from_a_shared_source_drains_its_buckets_before_returning(lab):
    """A remote site sees one prober address: the check waits until the buckets it filled are
    empty, so the next client from that address (any later test, in any order) is not refused."""
    target = lab.site("shared_source")
    result = http.check_rate_limit(target, source_address="127.0.0.9")
    assert result.status == "pass", result
    assert "(from 127.0.0.9); waited" in result.observed
    # right after: a burst within the guide's allowance (burst 20) from the same address passes
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = set(
            pool.map(
                lambda _: fetch(target, target.url_for("/"), source_address="127.0.0.9").status,
                range(16),
            )
        )
    assert statuses == {200}, statuses


def test_drain_wait_is_what_got_through_over_the_rate():
    zones = [
        ZoneResult("general /", 10, (200,) * 4, 30, 22, 429, passed=25, ended=100.0),
        ZoneResult("API", 30, (200,) * 4, 80, 55, 429, passed=60, ended=101.0),
    ]
    # general empty at 100 + 25/10 = 102.5, API at 101 + 60/30 = 103: wait for the later one
    assert drain_wait(zones, now=100.0) == pytest.approx(3.0)
    assert drain_wait(zones[:1], now=100.0) == pytest.approx(2.5)
    assert drain_wait(zones, now=103.0) == pytest.approx(0.0)
    assert drain_wait([replace(zones[0], passed=10_000)], now=100.0) == MAX_DRAIN_S
    # nothing refused: the bucket was never full (or there is no limit), no wait
    assert drain_wait([replace(zones[0], first_limited_at=None)], now=100.0) == 0.0


def test_hsts_expectation_is_configurable(lab):
    target = lab.site("good").with_expectations(hsts_min_age=10**9)
    result = http.check_hsts(http.fetch_pages(target), target.expect)
    assert result.status == "fail" and "< 1000000000" in result.message


def test_www_redirect_not_applicable_without_www():
    target = tls.SiteTarget.from_args("https://shop.test")
    result = http.check_www_redirect(target)
    assert result.status == "n/a" and result.ok


def test_unreachable_plain_http_is_an_error_not_a_failure(lab):
    good = lab.site("good")
    target = tls.SiteTarget.from_args(
        good.url,
        http_url=f"http://shop.test:{free_port()}",
        resolve=[f"{h}:{p}:{a}" for h, p, a in good.resolve],
    )
    result = http.check_https_redirect(target)
    assert result.status == "error" and "plain HTTP unreachable" in result.message
    assert "set http_url (prodcheck.toml, --prodcheck-http-url or --http-url)" in result.message


def test_static_cache_errors_when_the_static_path_is_wrong(lab):
    good = lab.site("good")
    target = tls.SiteTarget.from_args(
        good.url,
        resolve=[f"{h}:{p}:{a}" for h, p, a in good.resolve],
        static_path="/static/nope.css",
    )
    result = http.check_static_cache(target)
    assert result.status == "error" and "answered 404" in result.message


def test_client_reads_raw_bytes_and_reuses_connections(lab):
    target = lab.site("good")
    r = fetch(target, target.url_for("/"), headers={"Accept-Encoding": "gzip"})
    assert r.status == 200 and r.header("content-encoding") == "gzip"
    assert r.body[:2] == b"\x1f\x8b"  # still compressed
    with Session(target) as s:
        for _ in range(3):
            s.request("GET", target.url_for(target.static_path))
        assert s.connections_opened == 1


def test_pages_with_a_fetch_error_make_header_checks_error():
    target = tls.SiteTarget.from_args(
        f"https://shop.test:{free_port()}", resolve=["shop.test:1:127.0.0.1"]
    )
    target = tls.SiteTarget.from_args(target.url, resolve=[f"shop.test:{target.port}:127.0.0.1"])
    pages = http.fetch_pages(target)
    assert len(pages.failures) == 4
    for check in (http.check_hsts, http.check_csp, http.check_server_banner):
        assert check(pages).status == "error"
    assert http.check_gzip(pages).status == "error"
