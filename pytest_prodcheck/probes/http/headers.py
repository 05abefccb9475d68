"""Security headers on every probed page: ``headers.hsts``, ``headers.x-frame-options``,
``headers.x-content-type-options``, ``headers.csp``.

    >>> pages = fetch_pages(target)
    >>> check_hsts(pages, target.expect).observed
    'max-age=63072000; includeSubDomains on all 4 pages'
    >>> check_x_frame_options(bad_pages).message
    'missing or wrong on: static /static/app.css (missing)'

``X-XSS-Protection`` is obsolete and not required.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.http.csp import evaluate_csp
from pytest_prodcheck.probes.http.pages import PageSet
from pytest_prodcheck.probes.tls.target import Expectations

Judge = Callable[[str], str | None]  # header value -> problem (None when fine)


def _judge_pages(
    check_id: str, header: str, pages: PageSet, expected: str, judge: Judge
) -> CheckResult:
    if not pages.fetched:
        reasons = "; ".join(f"{p.label}: {p.error}" for p in pages.failures)
        return CheckResult.errored(check_id, f"no page could be fetched: {reasons}", expected)
    values: dict[str, str] = {}
    problems: list[str] = []
    for page in pages.fetched:
        assert page.response is not None
        value = page.response.header(header)
        values[page.label] = value if value is not None else "missing"
        if value is None:
            problems.append(f"{page.label} (missing)")
        else:
            problem = judge(value)
            if problem:
                problems.append(f"{page.label} ({problem})")
    distinct = set(values.values())
    if len(distinct) == 1:
        observed = f"{next(iter(distinct))} on all {len(values)} pages"
    else:
        observed = "; ".join(f"{label}: {value}" for label, value in values.items())
    unfetched = [f"{p.label} ({p.error})" for p in pages.failures]
    if problems:
        return CheckResult.failed(
            check_id, observed, expected, f"missing or wrong on: {', '.join(problems)}"
        )
    if unfetched:
        return CheckResult.errored(check_id, f"could not fetch: {', '.join(unfetched)}", expected)
    return CheckResult.passed(check_id, observed, expected)


_MAX_AGE = re.compile(r"(?i)(?:^|;)\s*max-age\s*=\s*\"?(\d+)\"?")


def hsts_max_age(value: str) -> int | None:
    """``"max-age=63072000; includeSubDomains"`` → 63072000 (None when absent/garbled)."""
    m = _MAX_AGE.search(value)
    return int(m.group(1)) if m else None


def check_hsts(pages: PageSet, expect: Expectations | None = None) -> CheckResult:
    expect = expect or Expectations()
    minimum = expect.hsts_min_age

    def judge(value: str) -> str | None:
        age = hsts_max_age(value)
        if age is None:
            return "no max-age"
        if age < minimum:
            return f"max-age {age} < {minimum}"
        return None

    return _judge_pages(
        "headers.hsts",
        "Strict-Transport-Security",
        pages,
        f"Strict-Transport-Security max-age ≥ {minimum} on every page",
        judge,
    )


def check_x_frame_options(pages: PageSet) -> CheckResult:
    def judge(value: str) -> str | None:
        return (
            None
            if value.strip().upper() in ("DENY", "SAMEORIGIN")
            else f"{value!r} is not DENY/SAMEORIGIN"
        )

    return _judge_pages(
        "headers.x-frame-options",
        "X-Frame-Options",
        pages,
        "DENY or SAMEORIGIN on every page",
        judge,
    )


def check_x_content_type_options(pages: PageSet) -> CheckResult:
    def judge(value: str) -> str | None:
        return None if value.strip().lower() == "nosniff" else f"{value!r} is not nosniff"

    return _judge_pages(
        "headers.x-content-type-options",
        "X-Content-Type-Options",
        pages,
        "nosniff on every page",
        judge,
    )


def check_csp(pages: PageSet) -> CheckResult:
    """``headers.csp``: the policy, evaluated (:mod:`~pytest_prodcheck.probes.http.csp`), lets no
    attacker's script run; each blocking weakness is named with its directive."""

    def judge(value: str) -> str | None:
        report = evaluate_csp(value)
        return None if report.ok else "; ".join(str(w) for w in report.blocking)

    return _judge_pages(
        "headers.csp",
        "Content-Security-Policy",
        pages,
        "a Content-Security-Policy on every page whose effective script-src (else default-src) "
        "has no *, https:/http:/data:, 'unsafe-inline' without nonce/hash or 'unsafe-eval', "
        "with object-src restricted (and base-uri with nonces)",
        judge,
    )


_VERSION = re.compile(r"\d")


def check_server_banner(pages: PageSet) -> CheckResult:
    """``http.server-banner``: no version number in ``Server`` (absent is fine)."""
    check_id = "http.server-banner"
    expected = "no version number in Server (server_tokens off)"
    if not pages.fetched:
        return CheckResult.errored(check_id, "no page could be fetched", expected)
    banners = {
        (p.response.header("Server") or "(none)") for p in pages.fetched if p.response is not None
    }
    observed = ", ".join(sorted(banners))
    leaking = sorted(b for b in banners if _VERSION.search(b))
    if leaking:
        return CheckResult.failed(
            check_id,
            observed,
            expected,
            f"Server reveals a version: {', '.join(leaking)} (set server_tokens off)",
        )
    return CheckResult.passed(check_id, observed, expected)
