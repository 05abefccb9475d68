"""``http.https-redirect`` (plain HTTP → same host and path on https) and ``http.www-redirect``.

    >>> check_https_redirect(target).observed
    'shop.test → 301 https://shop.test:8443/prodcheck/redirect-check?probe=1; …'
    >>> check_www_redirect(target).status
    'pass'

Every configured name is asked on the plain-HTTP port (``target.http_url``); ``www`` may go
straight to the apex. Only permanent redirects count (301/308); a 302 is reported as such.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.http.client import fetch
from pytest_prodcheck.probes.tls.target import SiteTarget

PERMANENT = (301, 308)
PROBE_PATH = "/prodcheck/redirect-check?probe=1"


def _judge_location(
    status: int, location: str | None, hosts: tuple[str, ...], port: int, path: str
) -> str | None:
    if status in (302, 303, 307):
        return f"redirects with {status} (temporary) to {location} (expected 301/308, permanent)"
    if status not in PERMANENT:
        # the path is ours (any path must redirect): say so, or a 404 reads like a missing page
        return (
            f"does not redirect: {path} (a made-up probe path; every path must redirect) "
            f"answered {status} (expected 301/308)"
        )
    if not location:
        return f"{status} without Location"
    parts = urlsplit(location)
    if parts.scheme != "https":
        return f"redirects to {location} (not https)"
    if (parts.hostname or "") not in hosts:
        return f"redirects to host {parts.hostname} (expected {' or '.join(hosts)})"
    if (parts.port or 443) != port:
        return f"redirects to port {parts.port or 443} (expected {port})"
    got = parts.path + (f"?{parts.query}" if parts.query else "")
    if got != path:
        return f"redirects to path {got} (expected {path}: keep $request_uri)"
    return None


def check_https_redirect(target: SiteTarget) -> CheckResult:
    check_id = "http.https-redirect"
    expected = f"301/308 from {target.http_url} to https://<same host>:{target.port}<same path>"

    def one(name: str) -> tuple[str, str, str | None]:
        url = target.url_for(PROBE_PATH, host=name, scheme="http")
        try:
            r = fetch(target, url)
        except TargetUnreachable as exc:
            return name, "unreachable", str(exc)
        location = r.header("Location")
        hosts = (name, target.apex) if name == target.www else (name,)
        problem = _judge_location(r.status, location, hosts, target.port, PROBE_PATH)
        return name, f"{r.status} {location or ''}".strip(), problem

    with ThreadPoolExecutor(max_workers=max(1, len(target.names))) as pool:
        results = list(pool.map(one, target.names))
    observed = "; ".join(f"{name} → {seen}" for name, seen, _ in results)
    problems = [f"{name}: {problem}" for name, _, problem in results if problem]
    if all(seen == "unreachable" for _, seen, _ in results):
        return CheckResult.errored(
            check_id,
            f"plain HTTP unreachable at {target.http_url}: {problems[0]}; set http_url "
            "(prodcheck.toml, --prodcheck-http-url or --http-url) to where plain HTTP is served",
            expected,
        )
    if problems:
        return CheckResult.failed(check_id, observed, expected, "; ".join(problems))
    return CheckResult.passed(check_id, observed, expected)


def check_www_redirect(target: SiteTarget) -> CheckResult:
    check_id = "http.www-redirect"
    if not target.www:
        return CheckResult.not_applicable(check_id, "no www name configured")
    expected = f"301/308 from https://{target.www} to https://{target.apex}<same path>"
    url = target.url_for(PROBE_PATH, host=target.www)
    try:
        r = fetch(target, url)
    except TargetUnreachable as exc:
        return CheckResult.errored(check_id, str(exc), expected)
    location = r.header("Location")
    observed = f"{r.status} {location or ''}".strip()
    problem = _judge_location(r.status, location, (target.apex,), target.port, PROBE_PATH)
    if problem:
        return CheckResult.failed(check_id, observed, expected, f"{target.www}: {problem}")
    return CheckResult.passed(check_id, observed, expected)
