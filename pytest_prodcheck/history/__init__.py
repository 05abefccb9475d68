"""The evidence history: every run's checklist report and load summaries, kept as records.

    >>> from pytest_prodcheck.history import DirStore, make_record
    >>> store = DirStore(Path("reports/history"))
    >>> store.append(make_record(report.to_dict(), [(summary, "reports/load/…/summary.json")]))
    >>> store.read().records[-1].target
    'local'

Modules: :mod:`.records` (the record format), :mod:`.store` (a directory), :mod:`.s3store`
(an S3 bucket with a local spool), :mod:`.settings` (``[history]`` and :func:`open_store`).
"""

from __future__ import annotations

from pytest_prodcheck.history.records import (
    HISTORY_SCHEMA,
    HistoryRecord,
    LoadDigest,
    RecordProblem,
    make_record,
    parse_record,
    target_key,
)
from pytest_prodcheck.history.store import DirStore, HistoryRead, HistoryStore

__all__ = [
    "HISTORY_SCHEMA",
    "DirStore",
    "HistoryRead",
    "HistoryRecord",
    "HistoryStore",
    "LoadDigest",
    "RecordProblem",
    "make_record",
    "parse_record",
    "target_key",
]
