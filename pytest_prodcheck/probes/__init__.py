"""Read-only inspections of a target. Each check returns a :class:`CheckResult`."""

from pytest_prodcheck.core.result import CheckResult, Status

__all__ = ["CheckResult", "Status"]
