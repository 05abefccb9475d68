"""The release report as data: run provenance + every item's decision + the verdict.

    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    >>> meta = RunMeta(target="local", started_utc=t, finished_utc=t, command_line="pytest")
    >>> report = build_report(meta, {}, {}, waivers=[], attestations=[])
    >>> report.verdict.value, len(report.results), report.to_dict()["schema_version"]
    ('NO-GO', 51, 1)

``to_dict()`` is the ``checklist.json`` schema (see "The report" in ``README.md``); the Markdown and
HTML renderers read the same object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pytest_prodcheck._version import __version__
from pytest_prodcheck.checklist import (
    ITEM_STATUSES,
    SECTION_TITLES,
    SECTIONS,
    Attestation,
    ItemResult,
    TestRecord,
    Verdict,
    Waiver,
    decide_verdict,
    expired_waivers,
    resolve_items,
)
from pytest_prodcheck.evidence import Evidence

__all__ = ["SCHEMA_VERSION", "Report", "RunMeta", "build_report"]

SCHEMA_VERSION = 1


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class RunMeta:
    """Provenance of one run (everything already masked)."""

    target: str
    started_utc: datetime
    finished_utc: datetime
    command_line: str
    target_url: str | None = None
    marker_expression: str = ""
    release: str | None = None
    commit: str | None = None
    tool_version: str = __version__
    tests_run: int = 0
    workers: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "target_url": self.target_url,
            "tool": "pytest-prodcheck",
            "tool_version": self.tool_version,
            "started_utc": _iso(self.started_utc),
            "finished_utc": _iso(self.finished_utc),
            "duration_s": round((self.finished_utc - self.started_utc).total_seconds(), 3),
            "command_line": self.command_line,
            "marker_expression": self.marker_expression,
            "release": self.release,
            "commit": self.commit,
            "tests_run": self.tests_run,
            "workers": self.workers,
        }


@dataclass(frozen=True)
class Report:
    meta: RunMeta
    results: tuple[ItemResult, ...]
    verdict: Verdict
    expired_waivers: tuple[Waiver, ...] = field(default=())

    def section_results(self, section: str) -> list[ItemResult]:
        return [r for r in self.results if r.item.section == section]

    def section_counts(self, section: str) -> dict[str, int]:
        counts = dict.fromkeys(ITEM_STATUSES, 0)
        for r in self.section_results(section):
            counts[r.status] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        cov = self.verdict.coverage
        return {
            "schema_version": SCHEMA_VERSION,
            "run": self.meta.to_dict(),
            "verdict": self.verdict.value,
            "verdict_reasons": list(self.verdict.reasons),
            "counts": {"total": cov.total, **cov.by_status},
            "coverage": {
                "total": cov.total,
                "decided": cov.decided,
                "unverified": cov.unverified,
                "complete": cov.complete,
            },
            "sections": [
                {"id": s, "title": SECTION_TITLES[s], "counts": self.section_counts(s)}
                for s in SECTIONS
            ],
            "expired_waivers": [w.to_dict() for w in self.expired_waivers],
            "items": [_item_dict(r) for r in self.results],
        }


def _item_dict(r: ItemResult) -> dict[str, Any]:
    return {
        "id": r.item.id,
        "section": r.item.section,
        "title": r.item.title,
        "severity": r.item.severity,
        "automated": r.item.automated,
        "rationale": r.item.rationale,
        "status": r.status,
        "satisfied": r.satisfied,
        "decided_by": r.decided_by,
        "evidence": [e.to_dict() for e in r.evidence],
        "tests": [t.to_dict() for t in r.tests],
        "waiver": r.waiver.to_dict() if r.waiver else None,
        "attestation": r.attestation.to_dict() if r.attestation else None,
        "notes": list(r.notes),
    }


def build_report(
    meta: RunMeta,
    tests_by_item: Mapping[str, Sequence[TestRecord]],
    evidence_by_item: Mapping[str, Sequence[Evidence]],
    waivers: Iterable[Waiver],
    attestations: Iterable[Attestation],
    attestation_max_age_days: int = 180,
) -> Report:
    """Decide every item as of ``meta.finished_utc`` and compute the verdict."""
    waivers = list(waivers)
    results = resolve_items(
        tests_by_item,
        evidence_by_item,
        waivers,
        attestations,
        now=meta.finished_utc,
        attestation_max_age_days=attestation_max_age_days,
    )
    return Report(
        meta=meta,
        results=tuple(results),
        verdict=decide_verdict(results),
        expired_waivers=tuple(expired_waivers(waivers, meta.finished_utc.date())),
    )
