"""``checklist.md``: the report as GitHub/Jira-friendly Markdown, to paste into a release ticket.

>>> text = render_markdown(report)       # doctest: +SKIP
>>> text.splitlines()[0]                 # doctest: +SKIP
'# Production readiness: GO'
"""

from __future__ import annotations

import re

from pytest_prodcheck.checklist import ITEM_STATUSES, SECTION_TITLES, SECTIONS
from pytest_prodcheck.report.common import (
    STATUS_ICON,
    STATUS_LABEL,
    coverage_line,
    decision_lines,
    header_fields,
    scope_suffix,
    status_text,
    summarise,
)
from pytest_prodcheck.report.model import Report

_TAG = re.compile(r"<(?=[A-Za-z/!?])")  # "<b>" would render as HTML; "< 1000 ms" stays as it is


def cell(text: str) -> str:
    """Text safe inside a table cell: ``|`` escaped, HTML-like tags neutralised, lines joined."""
    text = _TAG.sub("&lt;", text.replace("\\", "\\\\").replace("|", "\\|"))
    return text.replace("\r", "").replace("\n", "<br>")


def _code(text: str) -> str:
    """An inline code span for a table cell (GFM honours ``\\|`` inside code in tables)."""
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


MAX_BYTES = 64 * 1024  # what a ticket comment takes
_BUDGETS = ((6, 300), (3, 160), (1, 80), (0, 0))  # evidence lines/chars per item, tried in order


def render_markdown(report: Report, detail_link: str = "checklist.html") -> str:
    """The page, evidence summarised (full detail in ``detail_link``) until ≤ 64 KiB."""
    text = ""
    for max_lines, max_chars in _BUDGETS:
        text = _render(report, detail_link, max_lines, max_chars)
        if len(text.encode("utf-8")) <= MAX_BYTES:
            return text
    cut = text.encode("utf-8")[: MAX_BYTES - 200].decode("utf-8", "ignore")
    return cut.rsplit("\n", 1)[0] + f"\n\n… truncated to fit a ticket: see {detail_link}\n"


def _lines(lines: list[str], link: str, max_lines: int, max_chars: int) -> str:
    if not lines:
        return "—"
    if max_lines == 0:
        return f"{len(lines)} lines: see {link}"
    return "<br>".join(cell(x) for x in summarise(lines, link, max_lines, max_chars))


def _render(report: Report, detail_link: str, max_lines: int, max_chars: int) -> str:
    v = report.verdict
    out = [f"# Production readiness: {v.value}{scope_suffix(report)}", ""]
    out += [
        f"- **{k}:** {cell(val) if k != 'Command' else '`' + val.replace('`', '') + '`'}"
        for k, val in header_fields(report)
    ]
    out += [f"- **Coverage:** {coverage_line(report)}", ""]
    if v.reasons:
        out.append("**Why:**")
        out += [f"- {cell(r)}" for r in v.reasons]
        out.append("")
    if report.expired_waivers:
        out.append("**Expired waivers (no longer applied):**")
        out += [
            f"- `{w.item}` — {cell(w.justification)} (owner {cell(w.owner)}, expired "
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
            link = f"{detail_link}#item-{r.item.id}"
            tests = [
                f"{_code(t.nodeid)} {t.outcome}" + (f": {cell(t.message)}" if t.message else "")
                for t in r.tests
            ]
            if max_lines and len(tests) > max_lines:
                tests = [*tests[:max_lines], f"… {len(tests) - max_lines} more: see {link}"]
            elif not max_lines and tests:
                tests = [f"{len(tests)} tests: see {link}"]
            tests_text = "<br>".join(tests) or "—"
            evidence = _lines(decision_lines(r), link, max_lines, max_chars)
            out.append(
                f"| {STATUS_ICON[r.status]} {status_text(r)} | `{r.item.id}` {cell(r.item.title)} "
                f"| {r.item.severity} | {evidence} | {tests_text} |"
            )
        out.append("")
    return "\n".join(out)
