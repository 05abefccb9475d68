"""The release report as data: every item decided from fresh evidence across runs.

    >>> rr = decide_release(history, target="local", now=now)        # see release.decide
    >>> rr.verdict, rr.headline
    ('INCOMPLETE', 'INCOMPLETE: 1 critical item lacks fresh evidence: predeploy.disaster-recovery (stale: 40 d > 30 d)')
    >>> item = rr.item("testing.stress")
    >>> item.status, item.run_id, item.age_text
    ('passed', '20261127T020000Z-…', '1 d')

``to_dict()`` is ``release.json`` (``schema_version`` 1); ``release.md`` and ``release.html``
render the same object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pytest_prodcheck.checklist import Attestation, Waiver
from pytest_prodcheck.checklist_items import Item
from pytest_prodcheck.config.ages import MaxAge, format_age
from pytest_prodcheck.history.records import HistoryRecord, iso
from pytest_prodcheck.release.baseline import Comparison

__all__ = [
    "RELEASE_SCHEMA",
    "RELEASE_STATUSES",
    "ReleaseItem",
    "ReleaseReport",
    "ReleaseVerdict",
]

RELEASE_SCHEMA = 1
RELEASE_STATUSES: tuple[str, ...] = (
    "passed",
    "failed",
    "error",
    "stale",
    "skipped",
    "not_run",
    "manual",
    "waived",
    "not_applicable",
)
ReleaseVerdict = Literal["GO", "GO-WITH-WAIVERS", "NO-GO", "INCOMPLETE"]
DecidedBy = Literal["tests", "load", "attestation", "waiver", "none"]


@dataclass(frozen=True)
class ReleaseItem:
    """One item's release decision and where it came from."""

    item: Item
    status: str
    satisfied: bool
    fresh: bool  # decided by evidence within its maximum age (or an attestation/waiver)
    decided_by: DecidedBy
    max_age: MaxAge
    run_id: str | None = None
    run_label: str = ""
    at: datetime | None = None
    age: timedelta | None = None
    evidence: tuple[str, ...] = ()
    tests: tuple[Mapping[str, Any], ...] = ()
    attestation: Attestation | None = None
    waiver: Waiver | None = None
    notes: tuple[str, ...] = ()

    @property
    def age_text(self) -> str:
        return format_age(self.age) if self.age is not None else "—"

    @property
    def source_text(self) -> str:
        """``run 2026…-ab12 (stress), 2026-11-27 02:00 UTC, 1 d ago`` / ``attested by …``"""
        if self.at is None:
            return "no evidence"
        when = f"{self.at:%Y-%m-%d %H:%M} UTC"
        what = self.run_label or (f"attested by {self.attestation.by}" if self.attestation else "")
        return f"{what}, {when}, {self.age_text} old"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item.id,
            "section": self.item.section,
            "title": self.item.title,
            "severity": self.item.severity,
            "automated": self.item.automated,
            "status": self.status,
            "satisfied": self.satisfied,
            "fresh": self.fresh,
            "decided_by": self.decided_by,
            "max_age": self.max_age.text,
            "max_age_source": self.max_age.source,
            "run_id": self.run_id,
            "at_utc": iso(self.at) if self.at else None,
            "age_s": round(self.age.total_seconds()) if self.age is not None else None,
            "age": self.age_text,
            "evidence": list(self.evidence),
            "tests": [dict(t) for t in self.tests],
            "attestation": self.attestation.to_dict() if self.attestation else None,
            "waiver": self.waiver.to_dict() if self.waiver else None,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ReleaseReport:
    target: str
    release: str | None
    generated_utc: datetime
    anchor: HistoryRecord | None  # the run this report is for ("this run only" items)
    items: tuple[ReleaseItem, ...]
    verdict: ReleaseVerdict
    headline: str
    reasons: tuple[str, ...] = ()
    runs: tuple[HistoryRecord, ...] = field(default=(), repr=False)  # trend window, oldest first
    comparisons: tuple[Comparison, ...] = ()
    problems: tuple[str, ...] = ()
    history_where: str = ""
    detail_link: str = "release.html"

    def item(self, item_id: str) -> ReleaseItem:
        return next(r for r in self.items if r.item.id == item_id)

    def section_items(self, section: str) -> list[ReleaseItem]:
        return [r for r in self.items if r.item.section == section]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(RELEASE_STATUSES, 0)
        for r in self.items:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        a = self.anchor
        return {
            "schema_version": RELEASE_SCHEMA,
            "kind": "prodcheck-release-report",
            "target": self.target,
            "release": self.release,
            "generated_utc": iso(self.generated_utc),
            "history": self.history_where,
            "run": (
                {
                    "run_id": a.run_id,
                    "finished_utc": iso(a.finished_utc),
                    "release": a.release,
                    "commit": a.commit,
                    "marker_expression": a.marker_expression,
                }
                if a
                else None
            ),
            "verdict": self.verdict,
            "headline": self.headline,
            "verdict_reasons": list(self.reasons),
            "counts": {"total": len(self.items), **self.counts()},
            "baseline": [
                {
                    "profile": c.profile,
                    "regressed": c.regressed,
                    "comparable": c.comparable,
                    "lines": list(c.lines),
                    "baseline_run": c.baseline.record.run_id if c.baseline else None,
                }
                for c in self.comparisons
            ],
            "runs": [
                {
                    "run_id": r.run_id,
                    "finished_utc": iso(r.finished_utc),
                    "record": r.kind,
                    "marker_expression": r.marker_expression,
                    "release": r.release,
                    "verdict": (r.report or {}).get("verdict"),
                }
                for r in self.runs
            ],
            "skipped_records": list(self.problems),
            "items": [r.to_dict() for r in self.items],
        }
