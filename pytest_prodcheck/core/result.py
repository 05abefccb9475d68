"""The result of one named check, shared by every probe (TLS, HTTP, PgBouncer, Postgres, security).

    >>> r = CheckResult.passed("tls.protocols", observed="TLSv1.2, TLSv1.3", expected="only TLSv1.2, TLSv1.3")
    >>> r.ok, r.status
    (True, 'pass')
    >>> CheckResult.failed("headers.hsts", observed="absent", expected="max-age >= 63072000",
    ...                    message="Strict-Transport-Security missing on /static/app.css").ok
    False

A check that could not run (connection refused, timeout) is ``error`` with the reason; a check that
does not apply to this target is ``n/a`` with the reason. Neither aborts the other checks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["pass", "fail", "n/a", "error"]


@dataclass(frozen=True)
class CheckResult:
    id: str
    status: Status
    observed: str
    expected: str
    message: str = ""

    @property
    def ok(self) -> bool:
        """True unless the check failed or errored (``n/a`` counts as ok)."""
        return self.status in ("pass", "n/a")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def passed(cls, id: str, observed: str, expected: str, message: str = "") -> CheckResult:
        return cls(id, "pass", observed, expected, message)

    @classmethod
    def failed(cls, id: str, observed: str, expected: str, message: str = "") -> CheckResult:
        return cls(id, "fail", observed, expected, message)

    @classmethod
    def not_applicable(cls, id: str, reason: str, expected: str = "") -> CheckResult:
        return cls(id, "n/a", "n/a", expected, reason)

    @classmethod
    def errored(cls, id: str, reason: str, expected: str = "") -> CheckResult:
        return cls(id, "error", "error", expected, reason)

    @classmethod
    def judge(
        cls, id: str, ok: bool, observed: str, expected: str, message: str = ""
    ) -> CheckResult:
        return cls(id, "pass" if ok else "fail", observed, expected, message)
