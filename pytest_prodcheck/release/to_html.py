"""``release.html``: the release report as one static page (inline CSS + SVG, no script).

    >>> page = render_release_html(rr)          # doctest: +SKIP
    >>> "<script" in page                       # doctest: +SKIP
    False

Fits a 1280 px window without sideways scrolling: fixed table layout, long words wrap,
charts scale down (``max-width: 100%``), and evidence longer than a few lines folds into
``<details>``.
"""

from __future__ import annotations

from html import escape

from pytest_prodcheck.checklist_items import SECTION_TITLES, SECTIONS
from pytest_prodcheck.release.model import RELEASE_STATUSES, ReleaseItem, ReleaseReport
from pytest_prodcheck.release.trends_svg import STATUS_COLOURS, load_trends, status_matrix
from pytest_prodcheck.report.common import STATUS_LABEL
from pytest_prodcheck.report.to_html import FIT_CSS, fold, link_text, page_start

_CSS = (
    FIT_CSS
    + """
col.c-status{width:9em} col.c-item{width:26%} col.c-sev{width:6em} col.c-from{width:17%}
.charts{display:flex;flex-wrap:wrap;gap:6px} .trend-row h3{margin:.6em 0 .2em 0}
.fresh-no{color:#c62828} small.age{color:#616161}
"""
)


def _badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#9e9e9e")
    fg = "#212121" if status == "not_run" else "#fff"
    return (
        f'<span class="status st-{status}" style="background:{colour};color:{fg}">'
        f"{escape(STATUS_LABEL.get(status, status))}</span>"
    )


def _from(r: ReleaseItem) -> str:
    if r.at is None:
        return f"no evidence<br><small class='age'>max age: {escape(r.max_age.text)}</small>"
    cls = "" if r.fresh or r.status == "waived" else ' class="fresh-no"'
    what = escape(r.run_label or "—")
    return (
        f"{what}<br>{r.at:%Y-%m-%d %H:%M} UTC<br>"
        f"<span{cls}>age {escape(r.age_text)}</span> "
        f"<small class='age'>(max {escape(r.max_age.text)})</small>"
    )


def _evidence(r: ReleaseItem) -> str:
    lines = list(r.evidence)
    if r.attestation:
        a = r.attestation
        lines.append(f"attested by {a.by} on {a.at:%Y-%m-%d}: {a.evidence}")
    if r.waiver:
        w = r.waiver
        lines.append(f"waiver: {w.justification} (owner {w.owner}, until {w.expires})")
    lines.extend(r.notes)
    lines.extend(
        f"{t.get('nodeid')} {t.get('outcome')}" + (f": {t['message']}" if t.get("message") else "")
        for t in r.tests
    )
    return fold(lines)


def render_release_html(rr: ReleaseReport) -> str:
    a = rr.anchor
    out = [
        *page_start("Release readiness", rr.verdict, _CSS),
        "</h1>",
        f'<p class="headline" id="headline">{escape(rr.headline)}</p>',
        '<table class="meta">',
    ]
    fields = [
        ("Target", rr.target),
        ("Release", rr.release or "—"),
        ("Generated (UTC)", f"{rr.generated_utc:%Y-%m-%d %H:%M:%S}"),
        (
            "For run",
            f"{a.run_id} finished {a.finished_utc:%Y-%m-%d %H:%M:%S} UTC, markers "
            f"{a.marker_expression or '—'}, commit {a.commit or '—'}"
            if a
            else "— (no checklist run in the history)",
        ),
        ("History", f"{rr.history_where or '—'} ({len(rr.runs)} recent runs drawn)"),
    ]
    for key, value in fields:
        out.append(f"<tr><th>{escape(key)}</th><td>{escape(value)}</td></tr>")
    out.append("</table>")
    if rr.reasons:
        out.append("<h3>Why</h3><ul>" + "".join(f"<li>{escape(x)}</li>" for x in rr.reasons))
        out.append("</ul>")
    if rr.problems:
        out.append(
            f'<details class="problems"><summary>{len(rr.problems)} history record(s) skipped'
            "</summary><ul>"
            + "".join(f"<li>{escape(p)}</li>" for p in rr.problems)
            + "</ul></details>"
        )
    if rr.comparisons:
        out.append("<h2>Load baselines</h2><table class='baseline'><colgroup><col style='width:"
                   "12em'><col><col style='width:30%'></colgroup><thead><tr><th>Profile</th>"
                   "<th>Newest run vs baseline</th><th>Baseline</th></tr></thead><tbody>")  # fmt: skip
        for c in rr.comparisons:
            mark = _badge("failed") + " " if c.regressed else ""
            out.append(
                f'<tr data-regressed="{str(c.regressed).lower()}"><td>{escape(c.profile)}</td>'
                f"<td>{mark}{escape(c.line)}</td>"
                f"<td>{escape(c.baseline.describe if c.baseline else 'none yet')}</td></tr>"
            )
        out.append("</tbody></table>")
    regressed = {(r.run_id, c.profile) for c in rr.comparisons if c.regressed for r in rr.runs[-1:]}
    out.append("<h2>Load trends</h2>")
    out.append(load_trends(rr.runs, regressed))
    out.append("<h2>Item statuses over the last runs</h2>")
    out.append(status_matrix(rr.runs))
    legend = "".join(
        f'<span><i class="sw" style="background:{STATUS_COLOURS[s]}"></i>'
        f"{escape(STATUS_LABEL[s])}</span>"
        for s in RELEASE_STATUSES
    )
    out.append(f'<p class="legend">{legend}</p>')
    for section in SECTIONS:
        out.append(f'<h2 id="{section}">{escape(SECTION_TITLES[section])}</h2>')
        out.append(
            f'<table class="items" data-section="{section}"><colgroup><col class="c-status">'
            '<col class="c-item"><col class="c-sev"><col class="c-from"><col></colgroup>'
            "<thead><tr><th>Status</th><th>Item</th><th>Severity</th><th>From (age)</th>"
            "<th>Evidence</th></tr></thead><tbody>"
        )
        for r in rr.section_items(section):
            out.append(
                f'<tr id="item-{escape(r.item.id)}" data-status="{r.status}" '
                f'data-fresh="{str(r.fresh).lower()}">'
                f"<td>{_badge(r.status)}</td>"
                f"<td><code>{escape(r.item.id)}</code><br>{link_text(r.item.title)}</td>"
                f"<td>{escape(r.item.severity)}</td><td>{_from(r)}</td>"
                f"<td>{_evidence(r)}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
