"""``release.md``: the release report to paste into a ticket (always ≤ 64 KiB).

    >>> text = render_release_markdown(rr)         # doctest: +SKIP
    >>> text.splitlines()[0]                       # doctest: +SKIP
    '# Release readiness: INCOMPLETE'

Each item's evidence is summarised (a few short lines, then "… N more lines: see
release.html#item-<id>"); when the page would still exceed :data:`MAX_BYTES` the summaries
shrink until it fits.
"""

from __future__ import annotations

from pytest_prodcheck.checklist_items import SECTION_TITLES, SECTIONS
from pytest_prodcheck.release.model import ReleaseItem, ReleaseReport
from pytest_prodcheck.report.common import STATUS_ICON, STATUS_LABEL, summarise
from pytest_prodcheck.report.to_markdown import cell

MAX_BYTES = 64 * 1024
# (lines, chars per line) per attempt: the first that fits wins
_BUDGETS = ((3, 200), (2, 120), (1, 80), (0, 0))


def _evidence(r: ReleaseItem, link: str, max_lines: int, max_chars: int) -> str:
    lines = list(r.evidence) + list(r.notes)
    if r.attestation:
        a = r.attestation
        lines.insert(0, f"attested by {a.by} on {a.at:%Y-%m-%d}: {a.evidence}")
    if r.waiver:
        lines.insert(0, f"waiver: {r.waiver.justification} (owner {r.waiver.owner})")
    if not lines:
        return "—"
    if max_lines == 0:
        return f"{len(lines)} lines: see {link}"
    return "<br>".join(cell(x) for x in summarise(lines, link, max_lines, max_chars))


def _from(r: ReleaseItem) -> str:
    if r.at is None:
        return f"no evidence (max {r.max_age.text})"
    return cell(
        f"{r.run_label}, {r.at:%Y-%m-%d %H:%M} UTC, age {r.age_text} (max {r.max_age.text})"
    )


def _render(rr: ReleaseReport, max_lines: int, max_chars: int) -> str:
    a = rr.anchor
    out = [f"# Release readiness: {rr.verdict}", "", f"**{cell(rr.headline)}**", ""]
    out += [
        f"- **Target:** {cell(rr.target)}",
        f"- **Release:** {cell(rr.release or '—')}",
        f"- **Generated (UTC):** {rr.generated_utc:%Y-%m-%d %H:%M:%S}",
        "- **For run:** "
        + (
            cell(
                f"{a.run_id} finished {a.finished_utc:%Y-%m-%d %H:%M:%S} UTC, markers "
                f"{a.marker_expression or '—'}, commit {a.commit or '—'}"
            )
            if a
            else "— (no checklist run in the history)"
        ),
        f"- **History:** {cell(rr.history_where or '—')}; full detail and trend charts: "
        f"{rr.detail_link}",
        "",
    ]
    if rr.reasons:
        out += ["**Why:**", *[f"- {cell(x)}" for x in rr.reasons], ""]
    if rr.problems:
        out.append(f"**{len(rr.problems)} history record(s) skipped:**")
        out += [f"- {cell(p)}" for p in rr.problems[:10]]
        if len(rr.problems) > 10:
            out.append(f"- … {len(rr.problems) - 10} more: see {rr.detail_link}")
        out.append("")
    if rr.comparisons:
        out += ["**Load baselines:**"]
        out += [
            f"- {'❌ ' if c.regressed else ''}{cell(c.profile)}: {cell(c.line)}"
            for c in rr.comparisons
        ]
        out.append("")
    for s in SECTIONS:
        out += [f"## {SECTION_TITLES[s]}", "", "| Status | Item | Severity | From | Evidence |"]
        out.append("|---|---|---|---|---|")
        for r in rr.section_items(s):
            link = f"{rr.detail_link}#item-{r.item.id}"
            out.append(
                f"| {STATUS_ICON.get(r.status, '')} {STATUS_LABEL.get(r.status, r.status)} "
                f"| `{r.item.id}` {cell(r.item.title)} | {r.item.severity} | {_from(r)} "
                f"| {_evidence(r, link, max_lines, max_chars)} |"
            )
        out.append("")
    return "\n".join(out)


def render_release_markdown(rr: ReleaseReport) -> str:
    """The Markdown page, its evidence summarised until it fits :data:`MAX_BYTES`."""
    text = ""
    for max_lines, max_chars in _BUDGETS:
        text = _render(rr, max_lines, max_chars)
        if len(text.encode("utf-8")) <= MAX_BYTES:
            return text
    cut = text.encode("utf-8")[: MAX_BYTES - 200].decode("utf-8", "ignore")
    return cut.rsplit("\n", 1)[0] + f"\n\n… truncated to fit a ticket: see {rr.detail_link}\n"
