"""Trend charts as inline SVG (no script): load metrics and item statuses over the last runs.

    >>> svg = metric_chart("p95", "ms", [Point("run 1", 305.0), Point("run 2", 412.0, bad=True)])
    >>> svg.startswith("<svg") and "<script" not in svg
    True
    >>> html = load_trends(runs)            # one row of 4 charts (p95, p99, req/s, errors) per profile
    >>> html = status_matrix(runs)          # one row per checklist item, one cell per run

Every chart has a fixed ``viewBox`` and scales down with CSS (``max-width: 100%``), so the page
never scrolls sideways; each point and cell carries a ``<title>`` (hover text, no JavaScript).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from html import escape

from pytest_prodcheck.checklist_items import ITEMS
from pytest_prodcheck.history.records import HistoryRecord, LoadDigest

__all__ = ["METRICS", "Point", "load_trends", "metric_chart", "status_matrix"]

STATUS_COLOURS: dict[str, str] = {
    "passed": "#2e7d32",
    "failed": "#c62828",
    "error": "#8e24aa",
    "stale": "#6d4c41",
    "skipped": "#f9a825",
    "not_run": "#e0e0e0",
    "manual": "#1565c0",
    "waived": "#ef6c00",
    "not_applicable": "#78909c",
}


@dataclass(frozen=True)
class Point:
    label: str
    value: float | None
    bad: bool = False


# (title, unit, value of a digest, how to print it)
METRICS: tuple[tuple[str, str, Callable[[LoadDigest], float | None]], ...] = (
    ("p95", "ms", lambda d: d.p95_ms),
    ("p99", "ms", lambda d: d.p99_ms),
    ("req/s", "req/s", lambda d: d.rps),
    ("error rate", "%", lambda d: None if d.error_rate is None else d.error_rate * 100),
)


def _fmt(v: float) -> str:
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    for step in (1, 2, 2.5, 5, 10):
        mag = 10.0 ** len(str(int(v))) / 10
        if v <= step * mag:
            return step * mag
    return v


def metric_chart(
    title: str, unit: str, points: Sequence[Point], width: int = 280, height: int = 150
) -> str:
    """A line chart of ``points`` (None = no value that run), y from 0 to a round maximum."""
    left, right, top, bottom = 44, 8, 22, 22
    pw, ph = width - left - right, height - top - bottom
    values = [p.value for p in points if p.value is not None]
    ymax = _nice_max(max(values)) if values else 1.0
    n = len(points)

    def x(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph - ph * v / ymax

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)} over the last {n} runs">',
        f'<text x="{left}" y="14" font-size="12" font-weight="bold">{escape(title)}'
        f'<tspan font-weight="normal" fill="#616161"> ({escape(unit)})</tspan></text>',
    ]
    for frac in (0.0, 0.5, 1.0):
        gy = top + ph - ph * frac
        out.append(
            f'<line x1="{left}" y1="{gy:.1f}" x2="{left + pw}" y2="{gy:.1f}" stroke="#e0e0e0"/>'
            f'<text x="{left - 4}" y="{gy + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="#616161">{_fmt(ymax * frac)}</text>'
        )
    segment: list[str] = []
    segments: list[list[str]] = []
    for i, p in enumerate(points):
        if p.value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x(i):.1f},{y(p.value):.1f}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            out.append(
                f'<polyline fill="none" stroke="#1565c0" stroke-width="2" points="{" ".join(seg)}"/>'
            )
    for i, p in enumerate(points):
        if p.value is None:
            continue
        colour = "#c62828" if p.bad else "#1565c0"
        out.append(
            f'<circle cx="{x(i):.1f}" cy="{y(p.value):.1f}" r="3.5" fill="{colour}" '
            f'data-value="{p.value:g}"><title>{escape(p.label)}: {_fmt(p.value)} {escape(unit)}'
            f"</title></circle>"
        )
    if not values:
        out.append(
            f'<text x="{left + pw / 2}" y="{top + ph / 2}" font-size="11" text-anchor="middle" '
            'fill="#9e9e9e">no data</text>'
        )
    if n:
        out.append(
            f'<text x="{left}" y="{height - 6}" font-size="10" fill="#616161">'
            f"{escape(points[0].label[:24])}</text>"
        )
        if n > 1:
            out.append(
                f'<text x="{left + pw}" y="{height - 6}" font-size="10" text-anchor="end" '
                f'fill="#616161">{escape(points[-1].label[:24])}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def _short(rec: HistoryRecord) -> str:
    return f"{rec.finished_utc:%m-%d %H:%M}"


def load_trends(runs: Sequence[HistoryRecord], regressed: Collection[tuple[str, str]] = ()) -> str:
    """One ``<div class="trend-row">`` per load profile seen in ``runs`` (oldest first).

    ``regressed``: ``(run id, profile)`` pairs drawn red (a baseline regression).
    """
    names: list[str] = []
    for rec in runs:
        for d in rec.load:
            if d.name not in names:
                names.append(d.name)
    if not names:
        return '<p class="none">No load runs in the history yet.</p>'
    out = []
    for name in names:
        having = [(rec, d) for rec in runs for d in rec.load if d.name == name]
        charts = []
        for title, unit, get in METRICS:
            points = [
                Point(
                    f"{_short(rec)} {rec.run_id[-6:]}",
                    get(d) if d.valid else None,
                    bad=(not d.ok) or (rec.run_id, name) in regressed,
                )
                for rec, d in having
            ]
            charts.append(metric_chart(f"{name} {title}", unit, points))
        out.append(
            f'<div class="trend-row" data-profile="{escape(name)}">'
            f"<h3>{escape(name)} <small>({len(having)} runs)</small></h3>"
            f'<div class="charts">{"".join(charts)}</div></div>'
        )
    return "".join(out)


def status_matrix(runs: Sequence[HistoryRecord], cell: int = 14) -> str:
    """Items (rows) × runs with a checklist report (columns, oldest left), coloured by status."""
    cols = [r for r in runs if r.report]
    if not cols:
        return '<p class="none">No checklist runs in the history yet.</p>'
    label_w, top = 250, 18
    cell = max(6, min(cell, 760 // max(1, len(cols))))
    width = label_w + cell * len(cols) + 10
    height = top + cell * len(ITEMS) + 4
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="matrix" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-label="Item statuses over the last {len(cols)} runs">',
        f'<text x="{label_w}" y="12" font-size="10" fill="#616161">oldest → newest '
        f"({len(cols)} runs)</text>",
    ]
    per_run = [r.items() for r in cols]
    for row, item in enumerate(ITEMS):
        y = top + row * cell
        out.append(
            f'<text x="0" y="{y + cell - 3}" font-size="{min(11, cell - 2)}">'
            f"{escape(item.id)}</text>"
        )
        for col, rec in enumerate(cols):
            entry = per_run[col].get(item.id) or {}
            status = str(entry.get("status", "not_run"))
            colour = STATUS_COLOURS.get(status, "#e0e0e0")
            if status == "manual" and not entry.get("attestation"):
                status, colour = "manual (not attested)", "#bbdefb"
            out.append(
                f'<rect x="{label_w + col * cell}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                f'fill="{colour}" data-status="{escape(status)}"><title>{escape(item.id)} '
                f"{escape(rec.label)}: {escape(status)}</title></rect>"
            )
    out.append("</svg>")
    return "".join(out)
