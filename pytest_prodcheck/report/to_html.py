"""``checklist.html``: one static, self-contained page (inline CSS + SVG, no JavaScript).

>>> page = render_html(report)            # doctest: +SKIP
>>> "<script" in page                     # doctest: +SKIP
False
"""

from __future__ import annotations

import re
from html import escape

from pytest_prodcheck.checklist import ITEM_STATUSES, SECTION_TITLES, SECTIONS
from pytest_prodcheck.report.common import (
    STATUS_LABEL,
    coverage_line,
    decision_lines,
    header_fields,
    scope_suffix,
    status_text,
)
from pytest_prodcheck.report.model import Report

COLOURS: dict[str, str] = {
    "passed": "#2e7d32",
    "failed": "#c62828",
    "error": "#8e24aa",
    "skipped": "#f9a825",
    "not_run": "#9e9e9e",
    "manual": "#1565c0",
    "waived": "#ef6c00",
    "not_applicable": "#78909c",
}
# a run's verdicts, and INCOMPLETE: a release lacking fresh evidence (release/to_html.py)
VERDICT_COLOURS = {
    "GO": "#2e7d32",
    "NO-GO": "#c62828",
    "GO-WITH-WAIVERS": "#ef6c00",
    "INCOMPLETE": "#6d4c41",
}

# Shared by checklist.html and release.html: fits a 1280 px window without sideways scrolling
FIT_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#212121;
max-width:1220px;overflow-wrap:anywhere}
h1{margin-bottom:.2em} .verdict{display:inline-block;padding:.2em .6em;color:#fff;border-radius:4px}
table{border-collapse:collapse;margin:.5em 0 1.5em 0;width:100%;table-layout:fixed}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;font-size:14px;
overflow-wrap:anywhere;word-break:break-word}
th{background:#f5f5f5} table.meta th{width:12em}
.scope{font-weight:normal;color:#616161;margin-left:.5em}
.status{font-weight:bold;color:#fff;white-space:nowrap;border-radius:3px;padding:1px 6px}
ul.ev{margin:0;padding-left:1.2em} code{font-size:13px;overflow-wrap:anywhere}
details summary{cursor:pointer;color:#1565c0}
svg{max-width:100%;height:auto} pre{white-space:pre-wrap}
.legend span{display:inline-block;margin-right:1em}
.sw{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}
"""
_CSS = (
    FIT_CSS
    + """
col.c-status{width:9em} col.c-item{width:28%} col.c-sev{width:6em} col.c-tests{width:24%}
"""
)


# an http(s) URL in already-escaped text: stops at whitespace and at escaped quotes / brackets
_LINK = re.compile(r"https?://(?:(?!&(?:quot|lt|gt|#x27);)[^\s<>\"'])+(?<![.,;:)])")


def link_text(value: str) -> str:
    """Escaped text with http(s) links made clickable (attestation evidence, runbooks)."""
    return _LINK.sub(lambda m: f'<a href="{m[0]}">{m[0]}</a>', escape(value))


FOLD_LINES = 3  # more evidence lines than this fold into <details>
FOLD_CHARS = 600


def fold(lines: list[str]) -> str:
    """Evidence lines as a list; beyond a few lines (or long ones) the rest folds.

    >>> fold([]) == "—", "<details" in fold([f"line {n}" for n in range(10)])
    (True, True)
    """
    if not lines:
        return "—"

    def items(chunk: list[str]) -> str:
        return '<ul class="ev">' + "".join(f"<li>{link_text(x)}</li>" for x in chunk) + "</ul>"

    if len(lines) <= FOLD_LINES and sum(len(x) for x in lines) <= FOLD_CHARS:
        return items(lines)
    head = [x if len(x) <= 200 else x[:199] + "…" for x in lines[:2]]
    return (
        items(head) + f"<details><summary>all {len(lines)} lines</summary>{items(lines)}</details>"
    )


def _status_badge(status: str, text: str) -> str:
    return (
        f'<span class="status st-{status}" style="background:{COLOURS[status]}">'
        f"{escape(text)}</span>"
    )


def _chart(report: Report) -> str:
    """Horizontal stacked bars, one per section, status counts as segments."""
    bar_w, row_h, label_w = 480, 22, 130
    height = row_h * len(SECTIONS) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 60}" height="{height}" '
        'role="img" aria-label="Item statuses per section">'
    ]
    for row, section in enumerate(SECTIONS):
        counts = report.section_counts(section)
        total = sum(counts.values()) or 1
        y = row * row_h + 4
        parts.append(
            f'<text x="0" y="{y + 14}" font-size="13">{escape(SECTION_TITLES[section])}</text>'
        )
        x = float(label_w)
        for status in ITEM_STATUSES:
            n = counts[status]
            if not n:
                continue
            w = bar_w * n / total
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" '
                f'fill="{COLOURS[status]}"><title>{escape(STATUS_LABEL[status])}: {n}</title>'
                "</rect>"
            )
            if w >= 14:
                parts.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + 13}" font-size="11" fill="#fff" '
                    f'text-anchor="middle">{n}</text>'
                )
            x += w
        parts.append(
            f'<text x="{label_w + bar_w + 6}" y="{y + 14}" font-size="12">'
            f"{sum(counts.values())}</text>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i class="sw" style="background:{COLOURS[s]}"></i>{escape(STATUS_LABEL[s])}</span>'
        for s in ITEM_STATUSES
    )
    return "".join(parts) + f'<p class="legend">{legend}</p>'


def page_start(title: str, verdict: str, css: str) -> list[str]:
    """The document head and the ``<h1>title: VERDICT`` badge, left open for a suffix + ``</h1>``.

    >>> "".join(page_start("Production readiness", "GO", "")).endswith('>GO</span>')
    True
    """
    return [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}: {escape(verdict)}</title>",
        f"<style>{css}</style></head><body>",
        f'<h1>{escape(title)}: <span class="verdict" id="verdict" '
        f'style="background:{VERDICT_COLOURS[verdict]}">{escape(verdict)}</span>',
    ]


def render_html(report: Report) -> str:
    v = report.verdict
    out = [
        *page_start("Production readiness", v.value, _CSS),
        f'<small class="scope">{escape(scope_suffix(report))}</small></h1>',
        '<table class="meta">',
    ]
    for key, value in header_fields(report):
        out.append(f"<tr><th>{escape(key)}</th><td>{escape(value)}</td></tr>")
    out.append(f"<tr><th>Coverage</th><td>{escape(coverage_line(report))}</td></tr>")
    out.append("</table>")
    if v.reasons:
        out.append(
            "<h3>Why</h3><ul>" + "".join(f"<li>{escape(r)}</li>" for r in v.reasons) + "</ul>"
        )
    if report.expired_waivers:
        out.append("<h3>Expired waivers (no longer applied)</h3><ul>")
        for w in report.expired_waivers:
            out.append(
                f"<li><code>{escape(w.item)}</code> — {escape(w.justification)} "
                f"(owner {escape(w.owner)}, expired {w.expires.isoformat()})</li>"
            )
        out.append("</ul>")
    out.append("<h2>Statuses per section</h2>")
    out.append(_chart(report))
    for section in SECTIONS:
        out.append(f'<h2 id="{section}">{escape(SECTION_TITLES[section])}</h2>')
        out.append(
            f'<table class="items" data-section="{section}"><colgroup><col class="c-status">'
            '<col class="c-item"><col class="c-sev"><col><col class="c-tests"></colgroup>'
            "<thead><tr><th>Status</th><th>Item</th>"
            "<th>Severity</th><th>Evidence</th><th>Tests</th></tr></thead><tbody>"
        )
        for r in report.section_results(section):
            evidence = fold(decision_lines(r))
            test_items = [
                f"<li><code>{escape(t.nodeid)}</code> {escape(t.outcome)} "
                f"({t.duration_s:.2f} s)"
                + (f": {escape(t.message)}" if t.message else "")
                + "</li>"
                for t in r.tests
            ]
            tests = '<ul class="ev">' + "".join(test_items) + "</ul>" if r.tests else "—"
            if len(test_items) > FOLD_LINES:
                tests = (
                    '<ul class="ev">' + "".join(test_items[:2]) + "</ul><details><summary>all "
                    f"{len(test_items)} tests</summary>{tests}</details>"
                )
            out.append(
                f'<tr id="item-{escape(r.item.id)}" data-status="{r.status}">'
                f"<td>{_status_badge(r.status, status_text(r))}</td>"
                f"<td><code>{escape(r.item.id)}</code><br>{escape(r.item.title)}"
                f"<br><small>{escape(r.item.rationale)}</small></td>"
                f"<td>{escape(r.item.severity)}</td><td>{evidence}</td><td>{tests}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
