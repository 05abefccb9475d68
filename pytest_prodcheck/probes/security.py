"""Security checks over HTTP and TCP: HTTPS only, CORS, cookies, monitoring exposure, open ports, WAF.

    >>> check_https_only(target).status                 # every name: plain HTTP only redirects
    'pass'
    >>> check_cors(target).observed
    "/: no Access-Control-Allow-Origin; /api/products: no Access-Control-Allow-Origin"
    >>> check_ports_closed("203.0.113.10", {"postgres": 5432, "pgbouncer": 6432}).ok
    True

Each function takes a :class:`~pytest_prodcheck.probes.tls.target.SiteTarget` (or plain values)
and returns a :class:`CheckResult`; an unreachable site is an ``error`` with the reason.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.http.client import Response, Session, fetch
from pytest_prodcheck.probes.http.ratelimit import fresh_sources
from pytest_prodcheck.probes.tls.target import SiteTarget

EVIL_ORIGIN = "https://evil.example"
REDIRECTS = (301, 302, 307, 308)
MAX_REDIRECT_BODY = 1024  # an nginx redirect page is ~170 bytes; more means content is served
_LOGIN = re.compile(r"(?i)/(login|signin|sign_in|auth|oauth2?|sso)\b")
SESSION_COOKIE_HINTS = ("session", "sess", "sid", "token", "auth", "jwt", "remember")


def _loopback_source(target: SiteTarget) -> str | None:
    """An address to probe from that is neither allow-listed nor the suite's own rate bucket: a
    fresh 127.x.y.z on a loopback site (as the rate-limit probe), else the configured probe source."""
    fresh = fresh_sources(target, 1)
    return fresh[0] if fresh else target.rate_limit_source


# -- HTTPS only ----------------------------------------------------------------------------------
def check_https_only(target: SiteTarget, paths: Sequence[str] | None = None) -> CheckResult:
    """On every configured name, plain HTTP answers only with a redirect to https, never content."""
    cid = "security.https-only"
    paths = tuple(paths or ("/", target.api_path))
    findings: list[str] = []
    bad: list[str] = []
    try:
        with Session(target) as session:
            for host in target.names:
                for path in paths:
                    url = target.url_for(path, host=host, scheme="http")
                    resp = session.request("GET", url)
                    location = resp.header("location") or ""
                    https = location.startswith("https://")
                    ok = resp.status in REDIRECTS and https and len(resp.body) <= MAX_REDIRECT_BODY
                    findings.append(f"{host}{path} {resp.status}{' → https' if https else ''}")
                    if not ok:
                        why = (
                            f"answered {resp.status} with {len(resp.body)} bytes"
                            if resp.status not in REDIRECTS
                            else f"redirects to {location or 'nowhere'}"
                            if not https
                            else f"redirect carries {len(resp.body)} bytes of content"
                        )
                        bad.append(f"http://{host}{path} {why}")
    except TargetUnreachable as exc:
        return CheckResult.errored(cid, str(exc))
    return CheckResult.judge(
        cid,
        not bad,
        "; ".join(findings),
        "plain HTTP only redirects to https on every name",
        "; ".join(bad),
    )


# -- CORS ----------------------------------------------------------------------------------------
def _cors_verdict(resp: Response, origin: str) -> tuple[str, str | None]:
    allow = resp.header("access-control-allow-origin")
    creds = (resp.header("access-control-allow-credentials") or "").lower() == "true"
    if allow is None:
        return "no Access-Control-Allow-Origin", None
    desc = f"Allow-Origin {allow}{' with credentials' if creds else ''}"
    if allow.strip() == origin:
        return desc, f"reflects arbitrary Origin {origin}" + (" with credentials" if creds else "")
    if allow.strip() == "*" and creds:
        return desc, "allows any origin with credentials"
    return desc, None


def check_cors(target: SiteTarget, origin: str = EVIL_ORIGIN) -> CheckResult:
    """An arbitrary ``Origin`` is not reflected (simple and preflight requests), never with credentials."""
    cid = "security.cors"
    observed: list[str] = []
    bad: list[str] = []
    urls = [target.url_for("/"), target.api_url]
    try:
        with Session(target) as session:
            for url in urls:
                path = urlsplit(url).path
                for method, headers in (
                    ("GET", {"Origin": origin}),
                    (
                        "OPTIONS",
                        {
                            "Origin": origin,
                            "Access-Control-Request-Method": "POST",
                            "Access-Control-Request-Headers": "content-type, authorization",
                        },
                    ),
                ):
                    resp = session.request(method, url, headers=headers)
                    desc, problem = _cors_verdict(resp, origin)
                    if method == "GET":
                        observed.append(f"{path}: {desc}")
                    if problem:
                        bad.append(f"{method} {path} {problem}")
    except TargetUnreachable as exc:
        return CheckResult.errored(cid, str(exc))
    return CheckResult.judge(
        cid,
        not bad,
        "; ".join(observed),
        f"Origin {origin} not allowed, never with credentials",
        "; ".join(bad),
    )


# -- cookies -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CookieRequest:
    """A request that makes the site set cookies (e.g. a login)."""

    method: str
    path: str
    body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()
    host: str | None = None  # default: the apex


def _cookie_problems(header: str) -> tuple[str, list[str]]:
    jar: SimpleCookie = SimpleCookie()
    jar.load(header)
    lowered = header.lower()
    name = next(iter(jar.keys()), header.split("=", 1)[0].strip())
    problems = []
    attrs = {part.strip().split("=", 1)[0] for part in lowered.split(";")[1:]}
    if "secure" not in attrs:
        problems.append(f"{name} lacks Secure")
    if any(h in name.lower() for h in SESSION_COOKIE_HINTS) and "httponly" not in attrs:
        problems.append(f"{name} (session) lacks HttpOnly")
    if "samesite" not in attrs:
        problems.append(f"{name} lacks SameSite")
    elif "samesite=none" in lowered and "secure" not in attrs:
        problems.append(f"{name} has SameSite=None without Secure")
    return name, problems


def check_cookies(target: SiteTarget, requests: Iterable[CookieRequest] = ()) -> CheckResult:
    """Cookies the site sets are Secure, HttpOnly when they carry a session, and have SameSite."""
    cid = "security.cookies"
    reqs = list(requests) or [CookieRequest("GET", "/")]
    seen: list[str] = []
    bad: list[str] = []
    try:
        with Session(target) as session:
            for req in reqs:
                url = target.url_for(req.path, host=req.host or target.apex)
                resp = session.request(req.method, url, headers=dict(req.headers), body=req.body)
                for header in resp.header_all("set-cookie"):
                    name, problems = _cookie_problems(header)
                    seen.append(name)
                    bad.extend(problems)
    except TargetUnreachable as exc:
        return CheckResult.errored(cid, str(exc))
    if not seen:
        return CheckResult.not_applicable(
            cid,
            f"no cookies set by {', '.join(r.method + ' ' + r.path for r in reqs)}",
            "Secure; HttpOnly (session); SameSite",
        )
    return CheckResult.judge(
        cid,
        not bad,
        f"cookies: {', '.join(sorted(set(seen)))}",
        "Secure; HttpOnly (session); SameSite",
        "; ".join(bad),
    )


# -- monitoring exposure -------------------------------------------------------------------------
def check_monitoring_protected(
    target: SiteTarget, host: str | None, paths: Sequence[str] = ("/", "/nginx_status")
) -> CheckResult:
    """The monitoring name answers outsiders with 401/403 (authentication or address allowlist),
    or redirects them to a login page (Grafana's ``302 /login``); 404 only on paths other than ``/``.

    On a loopback site the probe comes from a fresh 127.x.y.z, i.e. not an allowlisted address.
    """
    cid = "security.monitoring-protected"
    if not host:
        return CheckResult.not_applicable(cid, "no monitoring host configured ([site] monitoring)")
    source = _loopback_source(target)
    observed, bad = [], []
    try:
        with Session(target, source_address=source) as session:
            for path in paths:
                resp = session.request("GET", target.url_for(path, host=host))
                location = resp.header("location") or ""
                to_login = resp.status in REDIRECTS and bool(_LOGIN.search(location))
                observed.append(f"{path} {resp.status}" + (f" → {location}" if to_login else ""))
                if not (
                    resp.status in (401, 403) or to_login or (resp.status == 404 and path != "/")
                ):
                    bad.append(
                        f"https://{host}{path} answered {resp.status} to an unauthenticated outsider"
                    )
    except TargetUnreachable as exc:
        return CheckResult.errored(cid, str(exc))
    return CheckResult.judge(
        cid,
        not bad,
        f"{host}: " + ", ".join(observed) + (f" (from {source})" if source else ""),
        "401/403 or a redirect to a login page, from a non-allowlisted address",
        "; ".join(bad),
    )


# -- ports ---------------------------------------------------------------------------------------
def check_ports_closed(
    address: str | None, ports: Mapping[str, int], timeout: float = 1.0
) -> CheckResult:
    """Database and admin ports do not accept connections on the public address."""
    cid = "security.admin-ports"
    if not address:
        return CheckResult.not_applicable(
            cid, "no public address configured ([security] public_address)"
        )
    if not ports:
        return CheckResult.not_applicable(cid, "no admin/database ports to probe")
    observed, open_ = [], []
    for name, port in sorted(ports.items()):
        try:
            with socket.create_connection((address, port), timeout=timeout):
                state = "OPEN"
                open_.append(f"{name} {address}:{port}")
        except TimeoutError:
            state = "filtered"
        except OSError:
            state = "closed"
        observed.append(f"{name} {port} {state}")
    return CheckResult.judge(
        cid,
        not open_,
        "; ".join(observed),
        f"no database/admin port reachable on {address}",
        ("reachable from outside: " + ", ".join(open_)) if open_ else "",
    )


# -- WAF -----------------------------------------------------------------------------------------
ATTACKS: tuple[tuple[str, str], ...] = (
    ("xss", "/?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    ("sqli", "/?id=1%27%20OR%20%271%27%3D%271"),
    ("traversal", "/?file=..%2F..%2F..%2Fetc%2Fpasswd"),
)


def check_waf(
    target: SiteTarget, declared: bool, blocked: Sequence[int] = (403, 406, 429)
) -> CheckResult:
    """When a WAF is declared, obvious injection patterns are blocked before the app."""
    cid = "security.waf"
    if not declared:
        return CheckResult.not_applicable(
            cid,
            "no WAF declared ([security] waf = true enables this probe); decide by attestation",
        )
    source = _loopback_source(target)
    observed, passed = [], []
    try:
        for name, path in ATTACKS:
            resp = fetch(target, target.url_for(path), source_address=source)
            observed.append(f"{name} {resp.status}")
            if resp.status not in blocked:
                passed.append(f"{name} ({path}) got {resp.status}")
    except TargetUnreachable as exc:
        return CheckResult.errored(cid, str(exc))
    return CheckResult.judge(
        cid,
        not passed,
        ", ".join(observed),
        f"every probe answered {'/'.join(map(str, blocked))}",
        ("not blocked: " + "; ".join(passed)) if passed else "",
    )
