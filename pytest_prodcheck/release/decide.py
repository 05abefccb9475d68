"""Decide a release from the history: each item from its newest fresh decisive evidence.

    >>> got = DirStore(Path("reports/history")).read()
    >>> rr = decide_release(got.records, target="local", release="REL-9", now=datetime.now(UTC),
    ...                     policy=AgePolicy(), waivers=[], attestations=[])
    >>> rr.verdict                                  # GO / GO-WITH-WAIVERS / NO-GO / INCOMPLETE
    'INCOMPLETE'

Rules, per item (its maximum age from :class:`~pytest_prodcheck.config.ages.AgePolicy`):

1. *Decisive* evidence is an item its linked tests decided in a run (``passed``, ``failed``,
   ``error``, ``not_applicable``), or a ``prodcheck load`` run of the item's profile that was
   valid. The newest decisive evidence of the target counts; "this run only" items look at the
   report's own run (the *anchor*: the newest run, of ``release`` when given) only.
2. Evidence older than the maximum age is ``stale`` (never ``passed``), with its run, date and
   age. A load run whose p95/throughput regressed beyond the baseline limits is ``failed``.
3. A manual item without fresh test evidence is decided by its newest attestation within the
   attestation's expiry (the attestation files' and those recorded in runs).
4. A valid waiver turns anything not satisfied into ``waived``.

Verdict: a fresh ``failed``/``error`` item → ``NO-GO``; else a critical item that is not
satisfied by fresh evidence (or waived) → ``INCOMPLETE`` naming them; else any waiver →
``GO-WITH-WAIVERS``; else ``GO``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pytest_prodcheck.checklist import Attestation, Waiver
from pytest_prodcheck.checklist_items import ITEMS, Item
from pytest_prodcheck.config.ages import AgePolicy, MaxAge, format_age, format_limit
from pytest_prodcheck.evidence import Evidence
from pytest_prodcheck.history.records import HistoryRecord, LoadDigest, RecordProblem, parse_time
from pytest_prodcheck.release.baseline import BaselineLimits, Comparison, compare, find_baseline
from pytest_prodcheck.release.model import DecidedBy, ReleaseItem, ReleaseReport, ReleaseVerdict

__all__ = ["PROFILE_ITEMS", "choose_anchor", "decide_release", "latest_comparisons"]

DECISIVE = ("passed", "failed", "error", "not_applicable")
# which checklist items a load profile's run decides (suites/test_load.py links the same)
PROFILE_ITEMS: Mapping[str, tuple[str, ...]] = {
    "smoke": ("testing.smoke",),
    "baseline": ("testing.baseline-load", "predeploy.load-baseline"),
    "stress": ("testing.stress",),
    "spike": ("testing.stress",),
}
_SKEW = timedelta(days=1)
MAX_EVIDENCE_LINES = 40


def choose_anchor(
    records: Sequence[HistoryRecord], target: str | None, release: str | None
) -> HistoryRecord | None:
    """The newest checklist run (of ``release`` when given) on ``target`` (any when None)."""
    runs = [
        r
        for r in records
        if r.kind == "run"
        and (target is None or r.target == target)
        and (release is None or r.release == release)
    ]
    return max(runs, key=lambda r: (r.finished_utc, r.run_id)) if runs else None


def _digest_for(record: HistoryRecord, item_id: str) -> LoadDigest | None:
    found = [d for d in record.load if item_id in PROFILE_ITEMS.get(d.profile, ()) and d.valid]
    return found[-1] if found else None


def _decision(record: HistoryRecord, item: Item) -> Mapping[str, Any] | None:
    """The record's decisive entry for ``item`` (report item, or a synthesised load one)."""
    entry = record.items().get(item.id)
    if entry and entry.get("status") in DECISIVE and entry.get("decided_by") == "tests":
        return entry
    if record.kind == "load" and (d := _digest_for(record, item.id)) is not None:
        return {
            "status": "passed" if d.ok else "failed",
            "decided_by": "load",
            "evidence": [],
            "tests": [],
            "load_line": _load_line(d),
        }
    return None


def _load_line(d: LoadDigest) -> str:
    bits = [f"load {d.name}: {'thresholds met' if d.ok else 'thresholds FAILED'}"]
    if d.p95_ms is not None:
        bits.append(f"p95 {d.p95_ms:.0f} ms")
    if d.p99_ms is not None:
        bits.append(f"p99 {d.p99_ms:.0f} ms")
    if d.rps is not None:
        bits.append(f"{d.rps:.1f} req/s")
    if d.error_rate is not None:
        bits.append(f"errors {d.error_rate * 100:.2f} %")
    if d.users is not None:
        bits.append(f"{d.users} users")
    return ", ".join(bits)


def _evidence_lines(entry: Mapping[str, Any]) -> tuple[str, ...]:
    lines: list[str] = []
    if entry.get("load_line"):
        lines.append(str(entry["load_line"]))
    for e in entry.get("evidence") or []:
        if isinstance(e, dict):
            lines.append(Evidence.from_dict(e).line())
    for n in entry.get("notes") or []:
        if isinstance(n, str) and not n.startswith("waived (would be"):
            lines.append(n)
    return tuple(lines)


def _tests(entry: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    return tuple(
        {"nodeid": str(t.get("nodeid", "")), "outcome": str(t.get("outcome", ""))}
        | ({"message": str(t["message"])} if t.get("message") else {})
        for t in entry.get("tests") or []
        if isinstance(t, dict)
    )


def recorded_attestations(records: Iterable[HistoryRecord]) -> list[Attestation]:
    """Attestations the runs' reports applied (so the history carries them too)."""
    out: list[Attestation] = []
    for rec in records:
        for entry in rec.items().values():
            a = entry.get("attestation")
            if not isinstance(a, dict):
                continue
            try:
                out.append(
                    Attestation(
                        item=str(a["item"]),
                        by=str(a["by"]),
                        at=parse_time(a.get("at"), "attestation at"),
                        evidence=str(a.get("evidence", "")),
                        note=str(a.get("note", "")),
                        applicable=bool(a.get("applicable", True)),
                    )
                )
            except (KeyError, RecordProblem):
                continue
    return out


def _fresh(max_age: MaxAge, age: timedelta, is_anchor: bool, att_limit: timedelta) -> bool:
    if max_age.kind == "run":
        return is_anchor
    limit = max_age.limit if max_age.kind == "duration" else att_limit
    return limit is not None and age <= limit


def _baseline_check(
    records: Sequence[HistoryRecord],
    rec: HistoryRecord,
    item: Item,
    limits: BaselineLimits,
) -> Comparison | None:
    d = _digest_for(rec, item.id) if rec.load else None
    if d is None:
        return None
    base = find_baseline(
        records, rec.target, d.name, before=rec.finished_utc, exclude_run=rec.run_id
    )
    return compare(d, base, limits)


def _decide_item(
    item: Item,
    records: Sequence[HistoryRecord],  # the target's, newest first
    anchor: HistoryRecord | None,
    now: datetime,
    policy: AgePolicy,
    atts: Sequence[Attestation],
    waivers: Sequence[Waiver],
    att_limit: timedelta,
    limits: BaselineLimits,
) -> ReleaseItem:
    max_age = policy.for_item(item)
    notes: list[str] = []
    status = "not_run" if item.automated else "manual"
    decided_by: DecidedBy = "none"
    satisfied = fresh = False
    run_id: str | None = None
    run_label = ""
    at: datetime | None = None
    evidence: tuple[str, ...] = ()
    tests: tuple[Mapping[str, Any], ...] = ()

    found: tuple[HistoryRecord, Mapping[str, Any]] | None = None
    if max_age.kind == "run" and anchor is not None:  # the anchor first, then older (stale)
        records = [anchor, *(r for r in records if r.run_id != anchor.run_id)]
    for rec in records:
        entry = _decision(rec, item)
        if entry is not None:
            found = (rec, entry)
            break
    if found is not None:
        rec, entry = found
        age = now - rec.finished_utc
        run_id, run_label, at = rec.run_id, rec.label, rec.finished_utc
        evidence, tests = _evidence_lines(entry), _tests(entry)
        is_anchor = anchor is not None and rec.run_id == anchor.run_id
        if _fresh(max_age, age, is_anchor, att_limit):
            status = str(entry["status"])
            decided_by = "load" if entry.get("decided_by") == "load" else "tests"
            fresh = True
            satisfied = status in ("passed", "not_applicable")
            cmp = _baseline_check(records, rec, item, limits)
            if cmp is not None:
                evidence = (*evidence, *cmp.lines)
                if cmp.regressed and status == "passed":
                    status, satisfied = "failed", False
                    notes.append(f"regressed against the baseline: {cmp.line}")
        else:
            was = str(entry["status"])
            status = "stale"
            if max_age.kind == "run":
                notes.append(
                    f"last decided ({was}) by {rec.label} {format_age(age)} ago; this item "
                    "counts only the evidence of the run the report is for"
                )
            else:
                limit = max_age.limit if max_age.kind == "duration" else att_limit
                notes.append(
                    f"last decided ({was}) {format_age(age)} ago, older than its maximum age "
                    f"{format_limit(limit) if limit else max_age.text}: run it again"
                )
    if anchor is not None and status == "not_run":
        entry = anchor.items().get(item.id)
        if entry and entry.get("status") == "skipped":
            status = "skipped"
            run_id, run_label, at = anchor.run_id, anchor.label, anchor.finished_utc
            evidence, tests = _evidence_lines(entry), _tests(entry)

    used_att: Attestation | None = None
    if not fresh and status in ("manual", "not_run", "skipped", "stale") and not item.automated:
        limit = max_age.limit if max_age.kind == "duration" else att_limit
        for a in sorted((a for a in atts if a.item == item.id), key=lambda a: a.at, reverse=True):
            if a.at - now > _SKEW:
                notes.append(f"attestation by {a.by} is dated in the future; ignored")
                continue
            if limit is not None and now - a.at > limit:
                notes.append(
                    f"attestation by {a.by} on {a.at:%Y-%m-%d} is older than "
                    f"{format_limit(limit)} and no longer counts; re-attest"
                )
                status = "stale" if status != "stale" else status
                at, run_label, run_id = a.at, f"attested by {a.by}", None
                break
            used_att = a
            status = "manual" if a.applicable else "not_applicable"
            decided_by, satisfied, fresh = "attestation", True, True
            at, run_label, run_id = a.at, f"attested by {a.by}", None
            break

    used_waiver: Waiver | None = None
    today = now.date()
    for w in waivers:
        if w.item != item.id:
            continue
        if w.expired(today):
            notes.append(f"waiver by {w.owner} expired on {w.expires.isoformat()}")
        elif used_waiver is None and not satisfied:
            notes.append(f"waived (would be {status}): {w.justification}")
            used_waiver = w
            status, satisfied, decided_by = "waived", True, "waiver"
    if len(evidence) > MAX_EVIDENCE_LINES:
        extra = len(evidence) - MAX_EVIDENCE_LINES
        evidence = (*evidence[:MAX_EVIDENCE_LINES], f"… {extra} more lines in the run's report")
    return ReleaseItem(
        item=item,
        status=status,
        satisfied=satisfied,
        fresh=fresh or used_waiver is not None,
        decided_by=decided_by,
        max_age=max_age,
        run_id=run_id,
        run_label=run_label,
        at=at,
        age=(now - at) if at is not None else None,
        evidence=evidence,
        tests=tests,
        attestation=used_att,
        waiver=used_waiver,
        notes=tuple(notes),
    )


def _lack(r: ReleaseItem) -> str:
    if r.status == "stale":
        limit = r.max_age.text
        return f"{r.item.id} (stale: {r.age_text} > {limit})"
    if r.status == "manual":
        return f"{r.item.id} (manual, not attested)"
    return f"{r.item.id} ({r.status.replace('_', ' ')})"


def _verdict(items: Sequence[ReleaseItem]) -> tuple[ReleaseVerdict, str, tuple[str, ...]]:
    failed = [r for r in items if r.status in ("failed", "error")]
    lacking = [r for r in items if r.item.severity == "critical" and not r.satisfied]
    others = [r for r in items if r.item.severity != "critical" and not r.satisfied]
    reasons: list[str] = [
        f"{r.item.severity} item {r.item.id} {r.status} ({r.source_text})" for r in failed
    ]
    verdict: ReleaseVerdict
    if failed:
        verdict = "NO-GO"
        headline = f"NO-GO: {len(failed)} item{'s' if len(failed) != 1 else ''} failed: " + (
            ", ".join(r.item.id for r in failed)
        )
    elif lacking:
        verdict = "INCOMPLETE"
        n = len(lacking)
        headline = (
            f"INCOMPLETE: {n} critical item{'s' if n != 1 else ''} "
            f"lack{'s' if n == 1 else ''} fresh evidence: " + ", ".join(_lack(r) for r in lacking)
        )
    elif any(r.status == "waived" for r in items):
        verdict = "GO-WITH-WAIVERS"
        waived = [r for r in items if r.waiver]
        headline = "GO-WITH-WAIVERS: " + ", ".join(
            f"{r.item.id} waived until {r.waiver.expires}" for r in waived if r.waiver
        )
    else:
        verdict, headline = "GO", "GO: every critical item is decided by fresh evidence"
    if failed and lacking:
        reasons.append(f"{len(lacking)} critical items lack fresh evidence too")
    if others:
        reasons.append(
            f"{len(others)} non-critical item{'s' if len(others) != 1 else ''} without fresh "
            "evidence (not blocking): "
            + ", ".join(_lack(r) for r in others[:8])
            + (", …" if len(others) > 8 else "")
        )
    return verdict, headline, tuple(reasons)


def latest_comparisons(
    records: Sequence[HistoryRecord], limits: BaselineLimits
) -> tuple[Comparison, ...]:
    """The newest run of each load profile compared with its baseline."""
    newest: dict[str, tuple[HistoryRecord, LoadDigest]] = {}
    for rec in sorted(records, key=lambda r: r.finished_utc):
        for d in rec.load:
            if d.valid:
                newest[d.name] = (rec, d)
    out = []
    for name, (rec, d) in sorted(newest.items()):
        base = find_baseline(
            records, rec.target, name, before=rec.finished_utc, exclude_run=rec.run_id
        )
        out.append(compare(d, base, limits))
    return tuple(out)


def decide_release(
    records: Iterable[HistoryRecord],
    *,
    now: datetime | None = None,
    target: str | None = None,
    release: str | None = None,
    current: HistoryRecord | None = None,
    policy: AgePolicy | None = None,
    waivers: Iterable[Waiver] = (),
    attestations: Iterable[Attestation] = (),
    attestation_max_age_days: int = 180,
    limits: BaselineLimits | None = None,
    trend_runs: int = 20,
    problems: Sequence[str] = (),
    history_where: str = "",
) -> ReleaseReport:
    """The release report of ``target`` as of ``now`` (see the module docstring)."""
    now = now or datetime.now(UTC)
    policy = policy or AgePolicy()
    limits = limits or BaselineLimits()
    pool = {r.run_id: r for r in records}
    if current is not None:
        pool[current.run_id] = current
    everything = sorted(pool.values(), key=lambda r: (r.finished_utc, r.run_id))
    anchor = current or choose_anchor(everything, target, release)
    if target is None:
        target = anchor.target if anchor else (everything[-1].target if everything else "local")
    mine = [r for r in everything if r.target == target and r.finished_utc - now <= _SKEW]
    newest_first = list(reversed(mine))
    waivers = list(waivers)
    atts = [*recorded_attestations(mine), *attestations]
    att_limit = timedelta(days=attestation_max_age_days)
    items = tuple(
        _decide_item(item, newest_first, anchor, now, policy, atts, waivers, att_limit, limits)
        for item in ITEMS
    )
    verdict, headline, reasons = _verdict(items)
    return ReleaseReport(
        target=target,
        release=release or (anchor.release if anchor else None),
        generated_utc=now,
        anchor=anchor,
        items=items,
        verdict=verdict,
        headline=headline,
        reasons=reasons,
        runs=tuple(mine[-trend_runs:]) if trend_runs > 0 else (),
        comparisons=latest_comparisons(mine, limits),
        problems=tuple(problems),
        history_where=history_where,
    )
