"""What a test measured, so the report can say ``p95 312 ms < 1000 ms`` and not only "passed".

    >>> rec = EvidenceRecorder(source="suites/test_load.py::test_smoke")
    >>> rec.record("p95", "312 ms", "< 1000 ms", passed=True).line()
    'p95: 312 ms (expected < 1000 ms) pass'
    >>> from pytest_prodcheck.probes import CheckResult
    >>> rec.check(CheckResult.passed("tls.protocols", "TLSv1.2, TLSv1.3", "only TLSv1.2+")).ok
    True
    >>> [e.name for e in rec.records]
    ['p95', 'tls.protocols']

In tests use the ``prodcheck_evidence`` fixture, which is a recorder bound to the test.
Everything recorded is masked with :func:`pytest_prodcheck.core.secrets.mask_text` first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.core.secrets import mask_text

__all__ = ["Evidence", "EvidenceRecorder", "EvidenceStatus"]

EvidenceStatus = Literal["pass", "fail", "n/a", "error", "info"]
_STATUSES: tuple[str, ...] = ("pass", "fail", "n/a", "error", "info")


@dataclass(frozen=True)
class Evidence:
    """A measured value and its expectation; ``status`` as in :class:`CheckResult`, or ``info``."""

    name: str
    status: EvidenceStatus
    observed: str
    expected: str = ""
    message: str = ""
    source: str = ""

    @property
    def passed(self) -> bool | None:
        """True/False for pass/fail-like statuses, None for ``n/a`` and ``info``."""
        if self.status in ("n/a", "info"):
            return None
        return self.status == "pass"

    def line(self) -> str:
        """Human one-liner used by the Markdown and HTML reports."""
        text = f"{self.name}: {self.observed}"
        if self.expected:
            text += f" (expected {self.expected})"
        text += f" {self.status}"
        if self.message:
            text += f" — {self.message}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evidence:
        status = str(data.get("status", "info"))
        return cls(
            name=str(data.get("name", "")),
            status=status if status in _STATUSES else "info",  # type: ignore[arg-type]
            observed=str(data.get("observed", "")),
            expected=str(data.get("expected", "")),
            message=str(data.get("message", "")),
            source=str(data.get("source", "")),
        )


@dataclass
class EvidenceRecorder:
    """Collects :class:`Evidence` for one test (``source`` is its node id)."""

    source: str = ""
    secrets: Iterable[str] = field(default=(), repr=False)
    records: list[Evidence] = field(default_factory=list)

    def _mask(self, value: object) -> str:
        return mask_text(str(value), extra=list(self.secrets))

    def record(
        self,
        name: str,
        observed: object,
        expected: object = "",
        passed: bool | None = None,
        source: str = "",
        message: str = "",
    ) -> Evidence:
        """Record a measurement; ``passed=None`` records it as information only."""
        status: EvidenceStatus = "info" if passed is None else ("pass" if passed else "fail")
        ev = Evidence(
            name=self._mask(name),
            status=status,
            observed=self._mask(observed),
            expected=self._mask(expected),
            message=self._mask(message),
            source=source or self.source,
        )
        self.records.append(ev)
        return ev

    def check(self, result: CheckResult) -> CheckResult:
        """Record a :class:`CheckResult` as evidence and return it unchanged."""
        self.records.append(
            Evidence(
                name=self._mask(result.id),
                status=result.status,
                observed=self._mask(result.observed),
                expected=self._mask(result.expected),
                message=self._mask(result.message),
                source=self.source,
            )
        )
        return result
