"""Stress: where does the site break? Per-step verdicts and the knee of a stepped run.

    >>> knee = find_knee(steps, target_users=200)            # doctest: +SKIP
    >>> knee.describe()                                       # doctest: +SKIP
    'breaks at 150 users (p95 1.4 s); knee 100 users (118.2 req/s)'

The stress profile steps users up (``[load] stress_steps``, default four equal steps up to the
profile's users; :func:`..load.shapes.steps_shape`). Every step is judged on the requests that
finished inside it (:mod:`..load.windows`) against the thresholds a run of that many users
gets. The knee is the highest step up to which every step held; the step after it is where
the site broke, and the first threshold that failed there is named. The check passes when the
knee is at or above the profile's users. A metric without samples in a step (no AI request in a
short step) is not judged for that step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.load.charts import Series, panels_svg
from pytest_prodcheck.load.thresholds import Thresholds, Verdict
from pytest_prodcheck.load.windows import Window


@dataclass(frozen=True)
class Step:
    users: int
    window: Window
    verdicts: tuple[Verdict, ...]
    ai_pattern: str = "^/api/ai/"

    @property
    def judged(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if v.observed is not None)

    @property
    def ok(self) -> bool:
        return bool(self.judged) and all(v.ok for v in self.judged)

    @property
    def first_failure(self) -> Verdict | None:
        return next((v for v in self.judged if not v.ok), None)

    def metric(self, group: str, p: float) -> int | None:
        stats = self.window.stats
        hist = stats.total() if group == "all" else stats.group(self.ai_pattern, invert=True)
        return hist.percentile(p) if hist.count else None

    def to_dict(self) -> dict[str, Any]:
        stats, total = self.window.stats, self.window.stats.total()
        fail = self.first_failure
        return {
            "users": self.users,
            "start_s": self.window.start_s,
            "end_s": self.window.end_s,
            "requests": total.count,
            "rps": stats.rps(),
            "error_rate": total.error_rate,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "ok": self.ok,
            "broke": short(fail) if fail is not None else None,
        }


def short(v: Verdict) -> str:
    """``p95 1.4 s`` / ``error rate 3.20%`` / ``throughput 88.1 req/s``: what broke."""
    t, obs = v.threshold, v.observed
    prefix = "AI " if t.group == "ai" else ""
    if obs is None:
        return f"{prefix}{t.metric}: no samples"
    if t.metric in ("p95", "p99"):
        value = f"{obs / 1000:.1f} s" if obs >= 1000 else f"{obs:.0f} ms"
        return f"{prefix}{t.metric} {value}"
    if t.metric == "error_rate":
        return f"{prefix}error rate {obs * 100:.2f}%"
    return f"{prefix}throughput {obs:.1f} req/s"


def judge_steps(
    windows: Sequence[Window], steps: Sequence[tuple[int, Thresholds]]
) -> tuple[Step, ...]:
    """Pair windows with the planned steps (a run cut short has fewer windows)."""
    return tuple(
        Step(users, w, th.evaluate(w.stats), th.ai_pattern)
        for w, (users, th) in zip(windows, steps, strict=False)
    )


@dataclass(frozen=True)
class Knee:
    steps: tuple[Step, ...]
    target_users: int
    planned: int  # steps planned (more than len(steps): the run ended early)

    @property
    def knee(self) -> Step | None:
        last = None
        for step in self.steps:
            if not step.ok:
                break
            last = step
        return last

    @property
    def broke(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)

    @property
    def ok(self) -> bool:
        k = self.knee
        return k is not None and k.users >= self.target_users and self.broke is None

    def describe(self) -> str:
        k, b = self.knee, self.broke
        knee = f"knee {k.users} users ({k.window.stats.rps() or 0:.1f} req/s)" if k else "no knee"
        if b is not None:
            why = b.first_failure
            what = short(why) if why is not None else "no samples"
            return f"breaks at {b.users} users ({what}); {knee}"
        if len(self.steps) < self.planned:
            return f"{knee}; only {len(self.steps)} of {self.planned} steps ran"
        return f"{knee}: every threshold held at every step up to {self.target_users} users"

    def to_check(self, source: str = "") -> CheckResult:
        k = self.knee
        observed = f"{k.users} users" if k else "none"
        expected = f"knee >= {self.target_users} users"
        return CheckResult.judge("load.knee", self.ok, observed, expected, self.describe())

    def lines(self) -> list[str]:
        """The chart as text: one line per step."""
        out = []
        for s in self.steps:
            st, total = s.window.stats, s.window.stats.total()
            p95, p99 = s.metric("non-ai", 0.95), s.metric("non-ai", 0.99)
            out.append(
                f"step {s.users:>4} users: p95 {p95 if p95 is not None else '-'} ms, "
                f"p99 {p99 if p99 is not None else '-'} ms, {st.rps() or 0:.1f} req/s, "
                f"errors {100 * (total.error_rate or 0):.2f}% "
                + ("✓" if s.ok else f"✗ {short(s.first_failure) if s.first_failure else ''}")
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        k, b = self.knee, self.broke
        return {
            "ok": self.ok,
            "target_users": self.target_users,
            "knee_users": k.users if k else None,
            "knee_rps": k.window.stats.rps() if k else None,
            "broke_users": b.users if b else None,
            "broke_by": short(b.first_failure) if b and b.first_failure else None,
            "text": self.describe(),
            "steps": [s.to_dict() for s in self.steps],
        }

    def write_chart(self, path: Path) -> Path:
        labels = [str(s.users) for s in self.steps]
        series: list[Series] = [
            (
                "p95 ms (non-AI)",
                [s.metric("non-ai", 0.95) for s in self.steps],
                _limit(self, "p95"),
            ),
            (
                "p99 ms (non-AI)",
                [s.metric("non-ai", 0.99) for s in self.steps],
                _limit(self, "p99"),
            ),
            ("req/s", [s.window.stats.rps() for s in self.steps], None),
            (
                "errors %",
                [100 * (s.window.stats.total().error_rate or 0) for s in self.steps],
                100 * (_limit(self, "error_rate") or 0) or None,
            ),
        ]
        path.write_text(panels_svg(f"stress steps: {self.describe()}", labels, series), "utf-8")
        return path


def _limit(knee: Knee, metric: str) -> float | None:
    for s in knee.steps:
        for v in s.verdicts:
            if v.threshold.metric == metric and v.threshold.group != "ai":
                return v.threshold.limit
    return None


def find_knee(
    windows: Sequence[Window], steps: Sequence[tuple[int, Thresholds]], target_users: int
) -> Knee:
    return Knee(judge_steps(windows, steps), target_users, len(steps))
