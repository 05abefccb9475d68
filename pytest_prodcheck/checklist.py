"""The production checklist as decisions: waivers, attestations, item status and the verdict.

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

import difflib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pytest_prodcheck.checklist_items import ITEMS, SECTION_TITLES, SECTIONS, Item, by_id, is_known
from pytest_prodcheck.config import read_toml
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.secrets import mask_dsn
from pytest_prodcheck.evidence import Evidence

__all__ = [
    "CHECKLIST",
    "ITEM_STATUSES",
    "SECTIONS",
    "SECTION_TITLES",
    "Attestation",
    "Coverage",
    "ItemResult",
    "TestRecord",
    "Verdict",
    "Waiver",
    "append_attestation",
    "decide_verdict",
    "load_attestations",
    "load_waivers",
    "resolve_items",
    "suggest",
    "unknown_id_message",
]

CHECKLIST: tuple[Item, ...] = ITEMS
Outcome = Literal["passed", "failed", "error", "skipped"]
ItemStatus = Literal[
    "passed", "failed", "error", "skipped", "not_run", "manual", "waived", "not_applicable"
]
ITEM_STATUSES: tuple[str, ...] = (
    "passed",
    "failed",
    "error",
    "skipped",
    "not_run",
    "manual",
    "waived",
    "not_applicable",
)
VerdictValue = Literal["GO", "NO-GO", "GO-WITH-WAIVERS"]
_CLOCK_SKEW = timedelta(days=1)  # attestations dated later than now + this are ignored


def suggest(item_id: str) -> str:
    """`` (did you mean 'x'?)`` for a misspelt id, else ``""``."""
    close = difflib.get_close_matches(item_id, [i.id for i in ITEMS], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_id_message(item_id: object, where: str) -> str:
    return (
        f"{where}: unknown checklist id {item_id!r}{suggest(str(item_id))}; "
        "run 'prodcheck checklist' to list the ids"
    )


@dataclass(frozen=True)
class TestRecord:
    """One linked test's outcome in this session."""

    nodeid: str
    outcome: Outcome
    duration_s: float
    message: str = ""

    __test__ = False  # not a pytest test class

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "duration_s": round(self.duration_s, 3),
            "message": self.message,
        }


@dataclass(frozen=True)
class Waiver:
    """An accepted risk: InSpec-style, with an owner and an expiry date."""

    item: str
    justification: str
    owner: str
    expires: date

    def expired(self, today: date) -> bool:
        """A waiver is valid through its expiry day."""
        return today > self.expires

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "justification": self.justification,
            "owner": self.owner,
            "expires": self.expires.isoformat(),
        }


@dataclass(frozen=True)
class Attestation:
    """A person vouching for a manual item, with a link to the evidence."""

    item: str
    by: str
    at: datetime
    evidence: str
    note: str = ""
    applicable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "by": self.by,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "evidence": self.evidence,
            "note": self.note,
            "applicable": self.applicable,
        }


@dataclass(frozen=True)
class ItemResult:
    item: Item
    status: ItemStatus
    satisfied: bool
    decided_by: Literal["tests", "attestation", "waiver", "none"]
    tests: tuple[TestRecord, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    waiver: Waiver | None = None
    attestation: Attestation | None = None
    notes: tuple[str, ...] = ()

    @property
    def decided(self) -> bool:
        """True when this run produced a decision (not skipped / not_run / unattested)."""
        return self.decided_by != "none"


@dataclass(frozen=True)
class Coverage:
    total: int
    decided: int
    unverified: int
    complete: bool
    by_status: Mapping[str, int]


@dataclass(frozen=True)
class Verdict:
    value: VerdictValue
    reasons: tuple[str, ...]
    coverage: Coverage


# --- files ------------------------------------------------------------------------------------


def _text(entry: Mapping[str, Any], key: str, where: str, required: bool = True) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ConfigError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value.strip()


def _entries(
    path: Path, table: str, allowed: set[str]
) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """``(where, item id, entry)`` per ``[[table]]`` of ``path``, keys and item id validated."""
    data = read_toml(path, f"{table}s")
    unknown = [k for k in data if k != table]
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}; entries go in [[{table}]] tables")
    entries = data.get(table, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{path}: {table} must be an array of tables ([[{table}]])")
    for n, entry in enumerate(entries, start=1):
        where = f"{path}: {table} #{n}"
        extra = sorted(set(entry) - allowed)
        if extra:
            raise ConfigError(
                f"{where}: unknown key {extra[0]!r}; allowed: {', '.join(sorted(allowed))}"
            )
        item = _text(entry, "item", where)
        if not is_known(item):
            raise ConfigError(unknown_id_message(item, where))
        yield where, item, entry


def load_waivers(path: Path) -> list[Waiver]:
    """Read ``[[waiver]]`` tables (item, justification, owner, expires = YYYY-MM-DD)."""
    out: list[Waiver] = []
    for where, item, entry in _entries(
        path, "waiver", {"item", "justification", "owner", "expires"}
    ):
        expires = entry.get("expires")
        if isinstance(expires, str):
            try:
                expires = date.fromisoformat(expires)
            except ValueError:
                expires = None
        if isinstance(expires, datetime):
            expires = expires.date()
        if not isinstance(expires, date):
            raise ConfigError(
                f"{where} ({item}): expires must be a date like 2026-12-31, "
                f"got {entry.get('expires')!r}"
            )
        out.append(
            Waiver(
                item, _text(entry, "justification", where), _text(entry, "owner", where), expires
            )
        )
    return out


def _check_evidence_url(value: str, where: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{where}: evidence {mask_dsn(value)!r} must be an http(s) URL pointing at the proof "
            "(ticket, runbook, screenshot)"
        )
    if parts.password is not None or parts.username is not None:
        raise ConfigError(
            f"{where}: evidence {mask_dsn(value)!r} carries credentials: attestations end up in "
            "reports, link to the proof without user:password@"
        )


def load_attestations(path: Path) -> list[Attestation]:
    """Read ``[[attestation]]`` tables (item, by, at, evidence URL, note, applicable)."""
    out: list[Attestation] = []
    allowed = {"item", "by", "at", "evidence", "note", "applicable"}
    for where, item, entry in _entries(path, "attestation", allowed):
        if by_id(item).automated:
            raise ConfigError(
                f"{where}: {item} is automated (decided by its tests); attest only manual items, "
                "or waive it in the waivers file"
            )
        at = entry.get("at")
        if isinstance(at, str):
            try:
                at = datetime.fromisoformat(at)
            except ValueError:
                at = None
        if isinstance(at, date) and not isinstance(at, datetime):
            at = datetime(at.year, at.month, at.day)
        if not isinstance(at, datetime):
            raise ConfigError(
                f"{where} ({item}): at must be a date-time like 2026-11-28T10:00:00Z, "
                f"got {entry.get('at')!r}"
            )
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        evidence = _text(entry, "evidence", where)
        _check_evidence_url(evidence, where)
        applicable = entry.get("applicable", True)
        if not isinstance(applicable, bool):
            raise ConfigError(f"{where}: applicable must be true or false, got {applicable!r}")
        note = _text(entry, "note", where, required=False)
        out.append(Attestation(item, _text(entry, "by", where), at, evidence, note, applicable))
    return out


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def append_attestation(path: Path, att: Attestation) -> None:
    """Validate ``att`` and append it to ``path`` atomically (history is kept; newest wins)."""
    where = f"attestation for {att.item}"
    if not is_known(att.item):
        raise ConfigError(unknown_id_message(att.item, "attest"))
    if by_id(att.item).automated:
        raise ConfigError(
            f"attest: {att.item} is automated (decided by its tests); only manual items are "
            "attested — waive it instead if you accept the risk"
        )
    if not att.by.strip():
        raise ConfigError(f"{where}: --by must name who attests")
    _check_evidence_url(att.evidence, where)
    existing = ""
    if path.exists():
        load_attestations(path)  # refuse to append to a broken file
        existing = path.read_text(encoding="utf-8")
        if existing and not existing.endswith("\n"):
            existing += "\n"
    block = [
        "" if existing else "# Attestations for manual checklist items (prodcheck attest).",
        "[[attestation]]",
        f"item = {_toml_str(att.item)}",
        f"by = {_toml_str(att.by.strip())}",
        f"at = {att.at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"evidence = {_toml_str(att.evidence)}",
    ]
    if att.note:
        block.append(f"note = {_toml_str(att.note)}")
    if not att.applicable:
        block.append("applicable = false")
    text = (
        existing + ("\n" if existing else "") + "\n".join(b for b in block if b or existing) + "\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".attest-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- resolution --------------------------------------------------------------------------------


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
