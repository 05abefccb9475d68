"""The production checklist as decisions: waivers, attestations, item status and the verdict.

    >>> from datetime import datetime, timezone
    >>> now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    >>> run = TestRecord("suites/test_tls.py::test_redirect", "passed", 0.1)
    >>> results = resolve_items({"security.https-only": [run]}, {}, [], [], now=now)
    >>> next(r for r in results if r.item.id == "security.https-only").status
    'passed'
    >>> decide_verdict(results).value
    'GO'

:mod:`~pytest_prodcheck.checklist.model` holds the records, :mod:`~pytest_prodcheck.checklist.files`
reads and appends the waiver/attestation TOML files, :mod:`~pytest_prodcheck.checklist.decide`
applies the rules (written out in its docstring). The items themselves:
:mod:`pytest_prodcheck.checklist_items`.
"""

from __future__ import annotations

from pytest_prodcheck.checklist.decide import decide_verdict, expired_waivers, resolve_items
from pytest_prodcheck.checklist.files import append_attestation, load_attestations, load_waivers
from pytest_prodcheck.checklist.model import (
    CHECKLIST,
    ITEM_STATUSES,
    Attestation,
    Coverage,
    ItemResult,
    ItemStatus,
    Outcome,
    TestRecord,
    Verdict,
    VerdictValue,
    Waiver,
    unknown_id_message,
)
from pytest_prodcheck.checklist_items import SECTION_TITLES, SECTIONS, suggest

__all__ = [
    "CHECKLIST",
    "ITEM_STATUSES",
    "SECTIONS",
    "SECTION_TITLES",
    "Attestation",
    "Coverage",
    "ItemResult",
    "ItemStatus",
    "Outcome",
    "TestRecord",
    "Verdict",
    "VerdictValue",
    "Waiver",
    "append_attestation",
    "decide_verdict",
    "expired_waivers",
    "load_attestations",
    "load_waivers",
    "resolve_items",
    "suggest",
    "unknown_id_message",
]
