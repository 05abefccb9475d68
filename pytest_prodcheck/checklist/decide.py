"""Deciding the checklist: each item's status from tests, attestations and waivers; the verdict.

    >>> from datetime import date, datetime, timezone
    >>> now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    >>> run = TestRecord("suites/test_tls.py::test_redirect", "passed", 0.1)
    >>> tests = {"security.https-only": [run]}
    >>> results = resolve_items(tests, {}, waivers=[], attestations=[], now=now)
    >>> next(r for r in results if r.item.id == "security.https-only").status
    'passed'
    >>> next(r for r in results if r.item.id == "testing.stress").status   # never exercised
    'not_run'
    >>> decide_verdict(results).value
    'GO'

Status of an item (first rule that applies):

1. linked tests ran: any failed → ``failed``; else any error → ``error``; else any passed →
   ``passed`` (``not_applicable`` when every piece of evidence was ``n/a``); else ``skipped``;
2. no linked test ran: ``not_run`` (automated item) or ``manual`` (manual item);
3. a manual/skipped/not_run item with a valid attestation → ``manual`` (satisfied), or
   ``not_applicable`` when the attestation says ``applicable = false``;
4. a valid waiver turns anything not satisfied into ``waived``; an expired waiver is ignored and
   reported. Attestations older than ``[checklist] attestation_max_age_days`` are ignored, and
   so are attestations dated more than a day in the future (newest valid one wins).

Verdict (over the items this run decided; the rest is reported as coverage): any failed or
error item → ``NO-GO``; nothing decided at all → ``NO-GO``; any waiver needed →
``GO-WITH-WAIVERS``; otherwise ``GO``. ``coverage.complete`` says whether every item was decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Literal

from pytest_prodcheck.checklist.model import (
    ITEM_STATUSES,
    Attestation,
    Coverage,
    ItemResult,
    ItemStatus,
    TestRecord,
    Verdict,
    VerdictValue,
    Waiver,
)
from pytest_prodcheck.checklist_items import ITEMS, Item
from pytest_prodcheck.evidence import Evidence

__all__ = ["decide_verdict", "expired_waivers", "resolve_items"]

_CLOCK_SKEW = timedelta(days=1)  # attestations dated later than now + this are ignored


def resolve_items(
    tests_by_item: Mapping[str, Sequence[TestRecord]],
    evidence_by_item: Mapping[str, Sequence[Evidence]],
    waivers: Iterable[Waiver],
    attestations: Iterable[Attestation],
    now: datetime,
    attestation_max_age_days: int = 180,
) -> list[ItemResult]:
    """Decide every checklist item (see the module docstring for the rules)."""
    today = now.date()
    waiver_by_id: dict[str, list[Waiver]] = {}
    for w in waivers:
        waiver_by_id.setdefault(w.item, []).append(w)
    att_by_id: dict[str, list[Attestation]] = {}
    for a in sorted(attestations, key=lambda a: a.at):
        att_by_id.setdefault(a.item, []).append(a)
    max_age = timedelta(days=attestation_max_age_days)
    return [
        _resolve_one(
            item,
            tuple(tests_by_item.get(item.id, ())),
            tuple(evidence_by_item.get(item.id, ())),
            waiver_by_id.get(item.id, []),
            att_by_id.get(item.id, []),
            now,
            today,
            max_age,
        )
        for item in ITEMS
    ]


def _resolve_one(
    item: Item,
    tests: tuple[TestRecord, ...],
    evidence: tuple[Evidence, ...],
    waivers: list[Waiver],
    atts: Sequence[Attestation],
    now: datetime,
    today: date,
    max_age: timedelta,
) -> ItemResult:
    notes: list[str] = []
    att: Attestation | None = None  # the newest one not dated in the future
    for a in atts:
        if a.at - now > _CLOCK_SKEW:
            notes.append(
                f"attestation by {a.by} is dated {a.at.date().isoformat()}, in the future; "
                "ignored (fix its date)"
            )
        else:
            att = a
    status: ItemStatus
    decided_by: Literal["tests", "attestation", "waiver", "none"] = "none"
    satisfied = False
    if tests:
        outcomes = [t.outcome for t in tests]
        if "failed" in outcomes:
            status = "failed"
        elif "error" in outcomes:
            status = "error"
        elif "passed" in outcomes:
            status = "passed"
            satisfied = True
            if evidence and all(e.status == "n/a" for e in evidence):
                status = "not_applicable"
            skipped = outcomes.count("skipped")
            if skipped:
                notes.append(f"{skipped} of {len(tests)} linked tests skipped")
        else:
            status = "skipped"
        evidence += tuple(
            Evidence("skipped", "info", t.message or "no reason given", source=t.nodeid)
            for t in tests
            if t.outcome == "skipped"
        )
        if status != "skipped":
            decided_by = "tests"
    else:
        status = "not_run" if item.automated else "manual"

    used_att: Attestation | None = None
    if att is not None:
        if now - att.at > max_age:
            notes.append(
                f"attestation by {att.by} on {att.at.date().isoformat()} is older than "
                f"{max_age.days} days and no longer counts; re-attest"
            )
        elif status in ("skipped", "not_run", "manual"):
            used_att = att
            decided_by = "attestation"
            satisfied = True
            status = "manual" if att.applicable else "not_applicable"
        else:
            notes.append(f"attestation by {att.by} superseded by this run's tests")

    used_waiver: Waiver | None = None
    for w in waivers:
        if w.expired(today):
            notes.append(
                f"waiver by {w.owner} expired on {w.expires.isoformat()} and no longer applies"
            )
        elif used_waiver is None:
            if satisfied:
                notes.append(f"waiver by {w.owner} (until {w.expires.isoformat()}) not needed")
            else:
                notes.append(f"waived (would be {status}): {w.justification}")
                used_waiver = w
                status = "waived"
                satisfied = True
                decided_by = "waiver"
    return ItemResult(
        item=item,
        status=status,
        satisfied=satisfied,
        decided_by=decided_by,
        tests=tests,
        evidence=evidence,
        waiver=used_waiver,
        attestation=used_att,
        notes=tuple(notes),
    )


def expired_waivers(waivers: Iterable[Waiver], today: date) -> list[Waiver]:
    return [w for w in waivers if w.expired(today)]


def decide_verdict(results: Sequence[ItemResult]) -> Verdict:
    """GO / NO-GO / GO-WITH-WAIVERS over the decided items, plus coverage of all items."""
    by_status = {s: 0 for s in ITEM_STATUSES}
    for r in results:
        by_status[r.status] += 1
    decided = sum(1 for r in results if r.decided)
    coverage = Coverage(
        total=len(results),
        decided=decided,
        unverified=len(results) - decided,
        complete=decided == len(results),
        by_status=by_status,
    )
    reasons: list[str] = []
    for r in results:
        if r.status in ("failed", "error"):
            reasons.append(f"{r.item.severity} item {r.item.id} {r.status}")
    value: VerdictValue
    if reasons:
        value = "NO-GO"
    elif decided == 0:
        value = "NO-GO"
        reasons.append("no checklist item was decided by this run (nothing verified)")
    elif by_status["waived"]:
        value = "GO-WITH-WAIVERS"
        reasons.extend(f"{r.item.id} waived until {r.waiver.expires}" for r in results if r.waiver)
    else:
        value = "GO"
    if not coverage.complete:
        reasons.append(
            f"verdict covers {decided} of {len(results)} items; "
            f"{coverage.unverified} not verified by this run"
        )
    return Verdict(value, tuple(reasons), coverage)
