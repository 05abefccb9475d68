"""Did a run check anything? The gate ``make smoke`` applies after pytest exits 0.

    $ python -m pytest_prodcheck.report.gate reports      # exit 0, or 1 with one line saying why

pytest exits 0 when every selected test passed *or skipped*, so a smoke run whose linked tests all
skipped (no endpoint, nothing reachable) would pass while verifying nothing. The gate reads the
report this run wrote and fails unless it ran to completion (not interrupted), ran tests, decided
at least one checklist item and its verdict is not ``NO-GO``.

    >>> vacuity({"verdict": "GO", "run": {"tests_run": 3}, "coverage": {"decided": 2}})
    >>> vacuity({"verdict": "NO-GO", "run": {"tests_run": 3}, "coverage": {"decided": 0}})
    'no checklist item was decided (every linked test skipped, or none was selected): nothing was verified'
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["check_report_dir", "main", "vacuity"]


def vacuity(report: Mapping[str, Any]) -> str | None:
    """Why ``report`` (a parsed ``checklist.json``) proves nothing, or None when it proves something."""
    run = report.get("run") or {}
    coverage = report.get("coverage") or {}
    if run.get("interrupted"):
        why = run.get("interrupted_reason") or "interrupted"
        return f"the run was interrupted ({why}): it proves nothing; re-run it to completion"
    if not run.get("tests_run"):
        return "the run executed no test: nothing was verified"
    if not coverage.get("decided"):
        return (
            "no checklist item was decided (every linked test skipped, or none was selected): "
            "nothing was verified"
        )
    if report.get("verdict") == "NO-GO":
        reasons = [str(r) for r in report.get("verdict_reasons") or []]
        return "verdict NO-GO: " + ("; ".join(reasons[:3]) or "see the report")
    return None


def check_report_dir(directory: Path) -> str | None:
    """:func:`vacuity` of ``directory/checklist.json``; a missing or unreadable report fails too."""
    path = directory / "checklist.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{path} was not written: the run produced no checklist report"
    except (OSError, ValueError) as exc:
        return f"{path} is not a readable report ({exc})"
    if not isinstance(data, dict):
        return f"{path} is not a prodcheck report"
    return vacuity(data)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m pytest_prodcheck.report.gate REPORT_DIR", file=sys.stderr)
        return 2
    directory = Path(args[0])
    problem = check_report_dir(directory)
    if problem:
        print(
            f"prodcheck: FAILED: {problem} (see {directory}/checklist.md)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
