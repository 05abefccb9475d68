"""``http.static-cache``: a static file carries a long-lived ``Cache-Control`` and revalidates (304).

>>> check_static_cache(target).observed
'Cache-Control: public, max-age=2592000, immutable; If-None-Match → 304'
"""

from __future__ import annotations

import re

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.http.client import Response, Session
from pytest_prodcheck.probes.tls.target import SiteTarget

CHECK_ID = "http.static-cache"
MIN_MAX_AGE = 7 * 86400  # a week: "long-lived" (the reference config uses 30 days)
_MAX_AGE = re.compile(r"(?i)\b(?:s-)?max-age\s*=\s*(\d+)")


def cache_max_age(cache_control: str | None) -> int | None:
    if not cache_control:
        return None
    if re.search(r"(?i)\b(no-store|no-cache|private)\b", cache_control):
        return 0
    ages = [int(m) for m in _MAX_AGE.findall(cache_control)]
    return max(ages) if ages else None


def check_static_cache(target: SiteTarget, first: Response | None = None) -> CheckResult:
    """Fetch the static file (or judge ``first``), then revalidate it with its validator."""
    url = target.url_for(target.static_path)
    expected = f"Cache-Control max-age ≥ {MIN_MAX_AGE} s (or immutable) and 304 on revalidation"
    try:
        with Session(target) as session:
            r = first or session.request("GET", url)
            if r.status != 200:
                return CheckResult.errored(
                    CHECK_ID,
                    f"static file {target.static_path} answered {r.status}: set [site] static_path "
                    "to a file the web server serves",
                    expected,
                )
            cc = r.header("Cache-Control")
            age = cache_max_age(cc)
            etag, modified = r.header("ETag"), r.header("Last-Modified")
            conditional: dict[str, str] = {}
            if etag:
                conditional["If-None-Match"] = etag
            elif modified:
                conditional["If-Modified-Since"] = modified
            second = session.request("GET", url, headers=conditional) if conditional else None
    except TargetUnreachable as exc:
        return CheckResult.errored(CHECK_ID, str(exc), expected)
    validator = next(iter(conditional), "no validator")
    revalidated = second.status if second is not None else None
    observed = f"Cache-Control: {cc or '(none)'}; {validator} → {revalidated or 'not tried'}"
    problems: list[str] = []
    if age is None or age < MIN_MAX_AGE:
        problems.append(
            f"Cache-Control {cc or 'missing'} is not long-lived (max-age ≥ {MIN_MAX_AGE})"
        )
    if not conditional:
        problems.append("no ETag or Last-Modified to revalidate with")
    elif revalidated != 304:
        problems.append(f"revalidation with {validator} answered {revalidated}, not 304")
    if problems:
        return CheckResult.failed(CHECK_ID, observed, expected, "; ".join(problems))
    return CheckResult.passed(CHECK_ID, observed, expected)
