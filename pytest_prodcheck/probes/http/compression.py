"""``http.gzip``: compressible responses (HTML, JSON, CSS, JS…) are gzip-encoded when asked.

    >>> check_gzip(fetch_pages(target)).observed
    '/: gzip (text/html); API /api/products: gzip (application/json); static /static/app.css: gzip (text/css)'

Only successful responses of a compressible type and at least :data:`MIN_SIZE` bytes are judged
(servers rightly skip tiny bodies: nginx's ``gzip_min_length``).
"""

from __future__ import annotations

from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.http.pages import ERROR_LABEL, PageSet

CHECK_ID = "http.gzip"
MIN_SIZE = 1024
COMPRESSIBLE = (
    "text/",
    "application/json",
    "application/javascript",
    "application/x-javascript",
    "application/xml",
    "application/xhtml+xml",
    "application/ld+json",
    "image/svg+xml",
)


def is_compressible(content_type: str | None) -> bool:
    ctype = (content_type or "").split(";")[0].strip().lower()
    return ctype.startswith(COMPRESSIBLE) or ctype.endswith(("+json", "+xml"))


def check_gzip(pages: PageSet) -> CheckResult:
    expected = f"Content-Encoding: gzip on compressible 200 responses ≥ {MIN_SIZE} bytes"
    parts: list[str] = []
    problems: list[str] = []
    judged = 0
    for page in pages.fetched:
        r = page.response
        if r is None or page.label == ERROR_LABEL:
            continue
        ctype = (r.header("Content-Type") or "?").split(";")[0]
        encoding = (r.header("Content-Encoding") or "").lower()
        if r.status != 200 or not is_compressible(ctype):
            parts.append(f"{page.label}: not judged ({r.status} {ctype})")
            continue
        if "gzip" in encoding:
            judged += 1
            parts.append(f"{page.label}: gzip ({ctype})")
        elif len(r.body) < MIN_SIZE:
            parts.append(f"{page.label}: {len(r.body)} bytes, too small to judge")
        else:
            judged += 1
            parts.append(f"{page.label}: {encoding or 'identity'} ({ctype}, {len(r.body)} bytes)")
            problems.append(f"{page.label} ({ctype}, {len(r.body)} bytes) not gzip-encoded")
    observed = "; ".join(parts) or "no page fetched"
    if problems:
        return CheckResult.failed(
            CHECK_ID, observed, expected, f"{'; '.join(problems)}: enable gzip and gzip_types"
        )
    if judged == 0:
        return CheckResult.errored(
            CHECK_ID,
            f"no compressible response of ≥ {MIN_SIZE} bytes to judge ({observed})",
            expected,
        )
    return CheckResult.passed(CHECK_ID, observed, expected)
