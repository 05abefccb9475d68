"""``checklist.md``: the report as GitHub/Jira-friendly Markdown, to paste into a release ticket.

>>> text = render_markdown(report)       # doctest: +SKIP
>>> text.splitlines()[0]                 # doctest: +SKIP
'# Production readiness: GO'
"""

from __future__ import annotations

import re

from pytest_prodcheck.checklist import ITEM_STATUSES, SECTION_TITLES, SECTIONS
from pytest_prodcheck.report._common import (
    STATUS_ICON,
    STATUS_LABEL,
    coverage_line,
    decision_lines,
    header_fields,
    scope_suffix,
    status_text,
)
from pytest_prodcheck.report.model import Report

_TAG = re.compile(r"<(?=[A-Za-z/!?])")  # "<b>" would render as HTML; "< 1000 ms" stays as it is


def _cell(text: str) -> str:
    """Text safe inside a table cell: ``|`` escaped, HTML-like tags neutralised, lines joined."""
    text = _TAG.sub("&lt;", text.replace("\\", "\\\\").replace("|", "\\|"))
    return text.replace("\r", "").replace("\n", "<br>")


def _code(text: str) -> str:
    """An inline code span for a table cell (GFM honours ``\\|`` inside code in tables)."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def render_markdown(report: Report) -> str:
    v = report.verdict
    out = [f"# Production readiness: {v.value}{scope_suffix(report)}", ""]
    out += [
        f"- **{k}:** {_cell(val) if k != 'Command' else '`' + val.replace('`', '') + '`'}"
        for k, val in header_fields(report)
    ]
    out += [f"- **Coverage:** {coverage_line(report)}", ""]
    if v.reasons:
        out.append("**Why:**")
        out += [f"- {_cell(r)}" for r in v.reasons]
        out.append("")
    if report.expired_waivers:
        out.append("**Expired waivers (no longer applied):**")
        out += [
            f"- `{w.item}` — {_cell(w.justification)} (owner {_cell(w.owner)}, expired "
            f"{w.expires.isoformat()})"
            for w in report.expired_waivers
        ]
        out.append("")
    shown = [s for s in ITEM_STATUSES if v.coverage.by_status.get(s)]
    out.append("| Section | " + " | ".join(STATUS_LABEL[s] for s in shown) + " |")
    out.append("|---|" + "---:|" * len(shown))
    for s in SECTIONS:
        counts = report.section_counts(s)
        out.append(f"| {SECTION_TITLES[s]} | " + " | ".join(str(counts[x]) for x in shown) + " |")
    out.append("")
    for s in SECTIONS:
        out += [f"## {SECTION_TITLES[s]}", ""]
        out.append("| Status | Item | Severity | Evidence | Tests |")
        out.append("|---|---|---|---|---|")
        for r in report.section_results(s):
            tests = (
                "<br>".join(
                    f"{_code(t.nodeid)} {t.outcome}"
                    + (f": {_cell(t.message)}" if t.message else "")
                    for t in r.tests
                )
                or "—"
            )
            evidence = "<br>".join(_cell(line) for line in decision_lines(r)) or "—"
            out.append(
                f"| {STATUS_ICON[r.status]} {status_text(r)} | `{r.item.id}` {_cell(r.item.title)} "
                f"| {r.item.severity} | {evidence} | {tests} |"
            )
        out.append("")
    return "\n".join(out)
