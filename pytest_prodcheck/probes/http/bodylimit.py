"""``http.body-limit``: a request body over the configured limit gets 413.

>>> check_body_limit(target).observed
'POST 1114112 bytes to https://api.shop.test:8443/api/products → 413'
"""

from __future__ import annotations

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.http.client import send_oversized
from pytest_prodcheck.probes.tls.target import SiteTarget

CHECK_ID = "http.body-limit"
OVER = 64 * 1024  # how far over the limit the probe goes


def _nginx_size(n: int) -> str:
    """1048576 -> ``"1m"`` (nginx size syntax), else the byte count."""
    for unit, factor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if n % factor == 0:
            return f"{n // factor}{unit}"
    return str(n)


def check_body_limit(target: SiteTarget) -> CheckResult:
    limit = target.expect.body_limit_bytes
    size = limit + OVER
    expected = f"413 for a body over {limit} bytes"
    url = target.api_url
    try:
        outcome = send_oversized(target, url, size)
    except TargetUnreachable as exc:
        return CheckResult.errored(CHECK_ID, str(exc), expected)
    if isinstance(outcome, str):
        return CheckResult.failed(
            CHECK_ID,
            f"POST {size} bytes to {url} → {outcome}",
            expected,
            "the server dropped the connection instead of answering 413",
        )
    observed = f"POST {size} bytes to {url} → {outcome.status}"
    if outcome.status != 413:
        return CheckResult.failed(
            CHECK_ID,
            observed,
            expected,
            f"a body of {size} bytes was accepted ({outcome.status}), not refused with 413: "
            f"nginx's client_max_body_size is above [http] body_limit_bytes = {limit}; if your "
            "larger limit is intended, set [http] body_limit_bytes to it (in bytes), else set "
            f"client_max_body_size {_nginx_size(limit)} in nginx",
        )
    return CheckResult.passed(CHECK_ID, observed, expected)
