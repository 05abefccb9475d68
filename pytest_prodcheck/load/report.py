"""The JSON summary of one load run (``reports/load/<run>/summary.json``) and its text lines.

    >>> write_summary(outcome)                       # doctest: +SKIP
    PosixPath('reports/load/smoke-20260128-143000/summary.json')

Next to it Locust's own files: ``locust.html`` (charts), ``locust_stats.csv``,
``locust_stats_history.csv``, ``locust_failures.csv``, ``locust.json``, ``locust.log`` and the
live ``progress.jsonl``. Host names are kept, credentials in URLs are masked.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_prodcheck.core.secrets import mask_text
from pytest_prodcheck.load.stats import Histogram, LoadStats

if TYPE_CHECKING:
    from pytest_prodcheck.load.api import LoadOutcome

SCHEMA_VERSION = 1


def histogram_summary(h: Histogram) -> dict[str, Any]:
    return {
        "requests": h.count,
        "failures": h.failures,
        "error_rate": h.error_rate,
        "p50_ms": h.percentile(0.5) if h.count else None,
        "p95_ms": h.percentile(0.95) if h.count else None,
        "p99_ms": h.percentile(0.99) if h.count else None,
        "max_ms": h.max_ms,
    }


def stats_summary(stats: LoadStats, ai_pattern: str) -> dict[str, Any]:
    return {
        "rps": stats.rps(),
        "duration_s": stats.duration_s,
        "groups": {
            "all": histogram_summary(stats.total()),
            "non-ai": histogram_summary(stats.group(ai_pattern, invert=True)),
            "ai": histogram_summary(stats.group(ai_pattern)),
        },
        "endpoints": [
            {"method": e.method, "name": e.name, **histogram_summary(e.histogram)}
            for e in sorted(stats.endpoints, key=lambda e: e.key)
        ],
    }


def summary_dict(outcome: LoadOutcome) -> dict[str, Any]:
    plan, run = outcome.plan, outcome.run
    return {
        "schema_version": SCHEMA_VERSION,
        "name": plan.name,
        "profile": plan.profile.__dict__,
        "shape": plan.spec.shape,
        "host": mask_text(plan.spec.host),
        "host_header": plan.spec.locust_config.get("host_header"),
        "workers": plan.spec.workers,
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "wall_s": run.wall_s,
        "ok": outcome.ok,
        "valid": outcome.valid,
        "verdicts": [v.to_dict() for v in outcome.verdicts],
        "stats": stats_summary(run.stats, plan.thresholds.ai_pattern),
        "generator": run.health.to_dict(),
        "prepared": dict(outcome.prepared),
        "knee": outcome.knee.to_dict() if outcome.knee is not None else None,
        "drift": outcome.drift.to_dict() if outcome.drift is not None else None,
        "extra_checks": [c.to_dict() for c in outcome.extra_checks()],
        "charts": {k: str(v) for k, v in outcome.charts.items()},
        "errors": [
            {k: (mask_text(str(v)) if k == "error" else v) for k, v in e.items()}
            for e in run.errors
        ],
        "files": {k: str(v) for k, v in run.files.items()},
    }


def write_summary(outcome: LoadOutcome) -> Path:
    path = outcome.plan.spec.out_dir / "summary.json"
    path.write_text(json.dumps(summary_dict(outcome), indent=2, default=str), encoding="utf-8")
    return path


def summary_lines(outcome: LoadOutcome) -> list[str]:
    """Human summary: the k6-style verdict lines, generator health, where the reports are."""
    run = outcome.run
    total = run.stats.total()
    lines = [
        f"load {outcome.plan.name}: {total.count} requests in {run.wall_s:.1f}s "
        f"against {mask_text(outcome.plan.spec.host)}",
    ]
    lines += [f"  {v.render()}" + (f"  ({v.threshold.note})" if v.threshold.note else "")
              for v in outcome.verdicts]  # fmt: skip
    for check in outcome.extra_checks():
        mark = "✓" if check.ok else "✗"
        lines.append(f"  {check.id}: {check.message or check.observed} {mark}")
    if outcome.knee is not None:
        lines += [f"    {line}" for line in outcome.knee.lines()]
    if outcome.drift is not None:
        lines += [f"    {line}" for line in outcome.drift.lines()[:1]]
    for name, path in outcome.charts.items():
        lines.append(f"  chart ({name}): {path}")
    if not outcome.valid:
        lines.append(f"  RUN INVALID, thresholds not judged: {run.health.describe()}")
    else:
        lines.append(f"  {run.health.describe()}")
    for e in run.errors[:5]:
        lines.append(f"  error x{e.get('occurrences')}: {e.get('method')} {e.get('name')}: "
                     f"{mask_text(str(e.get('error')))[:160]}")  # fmt: skip
    if "html" in run.files:
        lines.append(f"  report: {run.files['html']}")
    return lines
