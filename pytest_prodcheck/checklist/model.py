"""The checklist's records: a linked test's outcome, waivers, attestations, item results, verdict.

>>> TestRecord("suites/test_tls.py::test_redirect", "passed", 0.1).to_dict()["outcome"]
'passed'
>>> Waiver("testing.stress", "nightly only", "ops", date(2026, 12, 31)).expired(date(2027, 1, 1))
True
>>> unknown_id_message("security.https-onyl", "waivers.toml")
"waivers.toml: unknown checklist id 'security.https-onyl' (did you mean 'security.https-only'?); run 'prodcheck checklist' to list the ids"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, get_args

from pytest_prodcheck.checklist_items import ITEMS, Item, suggest
from pytest_prodcheck.evidence import Evidence

CHECKLIST: tuple[Item, ...] = ITEMS
Outcome = Literal["passed", "failed", "error", "skipped"]
ItemStatus = Literal[
    "passed", "failed", "error", "skipped", "not_run", "manual", "waived", "not_applicable"
]
ITEM_STATUSES: tuple[str, ...] = get_args(ItemStatus)
VerdictValue = Literal["GO", "NO-GO", "GO-WITH-WAIVERS"]


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
