"""``http.keepalive``: several requests travel over one reused connection.

>>> check_keepalive(target).observed
'3 requests over 1 connection'
"""

from __future__ import annotations

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.http.client import Session
from pytest_prodcheck.probes.tls.target import SiteTarget

CHECK_ID = "http.keepalive"
REQUESTS = 3


def check_keepalive(target: SiteTarget) -> CheckResult:
    """Uses the static path (cheap, and usually outside the rate-limit zones)."""
    expected = f"{REQUESTS} requests over 1 connection"
    url = target.url_for(target.static_path)
    closes: list[str] = []
    try:
        with Session(target) as session:
            for _ in range(REQUESTS):
                r = session.request("GET", url)
                if (r.header("Connection") or "").lower() == "close":
                    closes.append("Connection: close")
            opened = session.connections_opened
    except TargetUnreachable as exc:
        return CheckResult.errored(CHECK_ID, str(exc), expected)
    observed = f"{REQUESTS} requests over {opened} connection{'s' if opened != 1 else ''}"
    if opened != 1:
        why = f" (server sent {closes[0]})" if closes else ""
        return CheckResult.failed(
            CHECK_ID,
            observed,
            expected,
            f"connections are not reused{why}: check keepalive_timeout",
        )
    return CheckResult.passed(CHECK_ID, observed, expected)
