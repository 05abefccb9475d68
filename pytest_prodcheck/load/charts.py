"""Small self-contained SVG charts for the load report (no JavaScript, no external assets).

    >>> svg = panels_svg("stress steps", ["50", "100"], [("p95 ms", [40, 90], 1000), ("req/s", [60, 118], None)])
    >>> svg.startswith("<svg") and "p95 ms" in svg
    True

One panel per series, bars per x label, each bar labelled with its value; a series' threshold
(if given) is drawn as a dashed line.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

Series = tuple[str, Sequence[float | None], float | None]  # name, values, threshold

PANEL_W, PANEL_H, GAP, LABEL_H = 360, 120, 24, 18


def _fmt(v: float) -> str:
    if v >= 100 or float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def panels_svg(title: str, labels: Sequence[str], series: Sequence[Series]) -> str:
    """An SVG with one bar panel per series over ``labels``."""
    width = PANEL_W + 60
    height = 30 + len(series) * (PANEL_H + GAP + LABEL_H)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="8" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    n = max(len(labels), 1)
    slot = PANEL_W / n
    for i, s in enumerate(series):
        name, values, limit = s
        top = 30 + i * (PANEL_H + GAP + LABEL_H)
        known = [v for v in values if v is not None]
        peak = max([*known, limit or 0, 1e-9])
        out.append(f'<text x="8" y="{top + 12}">{escape(name)}</text>')
        base = top + LABEL_H + PANEL_H
        out.append(f'<line x1="40" y1="{base}" x2="{40 + PANEL_W}" y2="{base}" stroke="#888"/>')
        for j, v in enumerate(values):
            x = 40 + j * slot + slot * 0.15
            if v is not None:
                h = PANEL_H * v / peak
                out.append(
                    f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{h:.1f}" fill="#4a7bd0"/>'
                )
                out.append(
                    f'<text x="{x + slot * 0.35:.1f}" y="{base - h - 3:.1f}" '
                    f'text-anchor="middle">{_fmt(v)}</text>'
                )
            out.append(
                f'<text x="{x + slot * 0.35:.1f}" y="{base + 13}" text-anchor="middle">'
                f"{escape(labels[j] if j < len(labels) else '')}</text>"
            )
        if limit is not None:
            y = base - PANEL_H * limit / peak
            out.append(
                f'<line x1="40" y1="{y:.1f}" x2="{40 + PANEL_W}" y2="{y:.1f}" '
                'stroke="#d04a4a" stroke-dasharray="4 3"/>'
            )
            out.append(
                f'<text x="{44 + PANEL_W}" y="{y + 4:.1f}" fill="#d04a4a">{_fmt(limit)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"
