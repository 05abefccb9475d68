"""``checklist.json``: the machine-readable report.

>>> render_json(report)            # doctest: +SKIP
'{\\n  "schema_version": 1, ...'
"""

from __future__ import annotations

import json

from pytest_prodcheck.report.model import Report


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
