"""Shared wording for the Markdown and HTML renderers."""

from __future__ import annotations

from pytest_prodcheck.checklist import ItemResult
from pytest_prodcheck.report.model import Report

STATUS_LABEL: dict[str, str] = {
    "passed": "passed",
    "failed": "FAILED",
    "error": "ERROR",
    "skipped": "skipped",
    "not_run": "not run",
    "manual": "manual",
    "waived": "waived",
    "not_applicable": "n/a",
    "stale": "stale",
}
STATUS_ICON: dict[str, str] = {
    "passed": "✅",
    "failed": "❌",
    "error": "💥",
    "skipped": "⏭️",
    "not_run": "⬜",
    "manual": "📝",
    "waived": "⚠️",
    "not_applicable": "➖",
    "stale": "⌛",
}


def status_text(r: ItemResult) -> str:
    """``manual (attested)`` / ``manual (not attested)`` / ``waived`` …"""
    label = STATUS_LABEL[r.status]
    if r.status == "manual":
        label += " (attested)" if r.attestation else " (not attested)"
    return label


def decision_lines(r: ItemResult) -> list[str]:
    """Evidence, attestation, waiver and notes as one-liners."""
    lines = [e.line() for e in r.evidence]
    if r.attestation:
        a = r.attestation
        text = f"attested by {a.by} on {a.at.date().isoformat()}: {a.evidence}"
        lines.append(text + (f" — {a.note}" if a.note else ""))
    if r.waiver:
        w = r.waiver
        lines.append(f"waiver: {w.justification} (owner {w.owner}, until {w.expires.isoformat()})")
    lines.extend(n for n in r.notes if not n.startswith("waived (would be"))
    return lines


def scope_suffix(report: Report) -> str:
    """`` — partial: 14 of 51 items decided`` unless every item was decided."""
    cov = report.verdict.coverage
    return "" if cov.complete else f" — partial: {cov.decided} of {cov.total} items decided"


def coverage_line(report: Report) -> str:
    """``3 of 51 items decided by this run (2 passed, 1 FAILED); 48 not verified (…)``."""
    decided: dict[str, int] = {}
    unverified: dict[str, int] = {}
    for r in report.results:
        label = status_text(r) if r.status == "manual" else STATUS_LABEL[r.status]
        bucket = decided if r.decided else unverified
        bucket[label] = bucket.get(label, 0) + 1
    cov = report.verdict.coverage

    def parts(counts: dict[str, int]) -> str:
        return f" ({', '.join(f'{n} {label}' for label, n in counts.items())})" if counts else ""

    return (
        f"{cov.decided} of {cov.total} items decided by this run{parts(decided)}; "
        f"{cov.unverified} not verified{parts(unverified)}"
    )


def header_fields(report: Report) -> list[tuple[str, str]]:
    m = report.meta
    fields = [
        ("Release", m.release or "—"),
        ("Commit", m.commit or "—"),
        ("Target", f"{m.target} {m.target_url}" if m.target_url else m.target),
        ("Started (UTC)", m.started_utc.strftime("%Y-%m-%d %H:%M:%S")),
        ("Finished (UTC)", m.finished_utc.strftime("%Y-%m-%d %H:%M:%S")),
        ("Command", m.command_line),
        ("Marker expression", m.marker_expression or "—"),
        ("Tool", f"pytest-prodcheck {m.tool_version}"),
        ("Tests run", str(m.tests_run)),
    ]
    return fields


def summarise(lines: list[str], link: str, max_lines: int = 3, max_chars: int = 200) -> list[str]:
    """At most ``max_lines`` lines of at most ``max_chars``, then ``… 5 more: see <link>``.

    >>> summarise(["a" * 300, "b", "c", "d"], "checklist.html#item-x", 2, 10)
    ['aaaaaaaaa…', 'b', '… 2 more lines: see checklist.html#item-x']
    """
    out = [ln if len(ln) <= max_chars else ln[: max_chars - 1] + "…" for ln in lines[:max_lines]]
    if len(lines) > max_lines:
        out.append(f"… {len(lines) - max_lines} more lines: see {link}")
    elif any(len(ln) > max_chars for ln in lines):
        out.append(f"full text: see {link}")
    return out
