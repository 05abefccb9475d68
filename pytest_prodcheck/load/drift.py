"""Endurance: does the site degrade over the run? First tenth against last tenth.

    >>> sampler = SiteSampler(metrics_url="http://127.0.10.1:8000/metrics",
    ...                       pgbouncer_dsn="postgresql://stats:…@127.0.10.1:6432/pgbouncer")
    >>> with sampler:                                            # doctest: +SKIP
    ...     run = run_locust(spec)
    >>> drift = judge_drift(read_windows(...), sampler.samples, run_s, DriftLimits())  # doctest: +SKIP
    >>> drift.describe()                                         # doctest: +SKIP
    'p95 14 ms -> 16 ms (+14%), errors 0.00% -> 0.00%, site memory 212 MB -> 219 MB (+3%)'

Besides its thresholds, an endurance run compares the requests that finished in its first tenth
with those of its last tenth (hook snapshots at 10 % and 90 %, :mod:`..load.windows`), and the
site's memory (``process_resident_memory_bytes`` of the shop's ``/metrics``, where the target
exposes it) and PgBouncer's pools (``SHOW POOLS``: clients active/waiting, servers active/idle)
sampled during the run. It fails on a drift ``[load]`` names: p95 up by more than ``drift_p95``
(default +50 %, and at least ``drift_min_ms``, 50 ms: on a p95 of a few ms, +50 % is noise), the
error rate up by more than ``drift_error_rate`` (default 1 point), memory up by more than
``drift_memory`` (default +50 %). Pools are shown, not judged (clients waiting in the last tenth
already push the p95).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.load.charts import panels_svg
from pytest_prodcheck.load.windows import Window

_RSS = re.compile(r"^process_resident_memory_bytes\s+([0-9.e+]+)\s*$", re.M)


@dataclass(frozen=True)
class DriftLimits:
    p95: float = 0.5  # relative increase allowed
    min_ms: float = 50.0  # ... and at least this many ms before it counts
    error_rate: float = 0.01  # absolute increase allowed (fraction)
    memory: float = 0.5  # relative increase allowed


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the sampler started
    rss_bytes: float | None
    pools: dict[str, int]  # cl_active, cl_waiting, sv_active, sv_idle (summed over pools)


class SiteSampler:
    """Polls the site's memory and PgBouncer's pools in a thread while the load runs."""

    def __init__(
        self, metrics_url: str | None, pgbouncer_dsn: str | None, every_s: float = 2.0
    ) -> None:
        self.metrics_url, self.pgbouncer_dsn, self.every_s = metrics_url, pgbouncer_dsn, every_s
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = 0.0

    def __enter__(self) -> SiteSampler:
        self.started = time.monotonic()
        if self.metrics_url or self.pgbouncer_dsn:
            self._thread = threading.Thread(target=self._loop, name="prodcheck-drift", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append(Sample(time.monotonic() - self.started, self._rss(), self._pools()))
            self._stop.wait(self.every_s)

    def _rss(self) -> float | None:
        if not self.metrics_url:
            return None
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=2) as resp:
                m = _RSS.search(resp.read().decode("utf-8", "replace"))
        except (OSError, ValueError):
            return None
        return float(m.group(1)) if m else None

    def _pools(self) -> dict[str, int]:
        if not self.pgbouncer_dsn:
            return {}
        from pytest_prodcheck.core.errors import ProdcheckError
        from pytest_prodcheck.core.pgbouncer_admin import AdminConsole

        out = {"cl_active": 0, "cl_waiting": 0, "sv_active": 0, "sv_idle": 0}
        with (
            contextlib.suppress(ProdcheckError, OSError),
            AdminConsole(self.pgbouncer_dsn, connect_timeout=2) as console,
        ):
            for row in console.show("POOLS").dicts():
                if row.get("database") == "pgbouncer":
                    continue
                for key in out:
                    with contextlib.suppress(TypeError, ValueError):
                        out[key] += int(row.get(key) or 0)
        return out


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class Drift:
    first: Window
    last: Window
    samples: tuple[Sample, ...]
    run_s: float
    limits: DriftLimits = field(default_factory=DriftLimits)

    def _tenth(self, first: bool) -> list[Sample]:
        cut = self.run_s / 10
        return [s for s in self.samples if (s.t <= cut if first else s.t >= self.run_s - cut)]

    @property
    def p95(self) -> tuple[int | None, int | None]:
        a, b = self.first.stats.total(), self.last.stats.total()
        return a.percentile(0.95) if a.count else None, b.percentile(0.95) if b.count else None

    @property
    def error_rate(self) -> tuple[float | None, float | None]:
        return self.first.stats.total().error_rate, self.last.stats.total().error_rate

    @property
    def memory(self) -> tuple[float | None, float | None]:
        def rss(ss: list[Sample]) -> float | None:
            return _mean([s.rss_bytes for s in ss if s.rss_bytes is not None])

        return rss(self._tenth(True)), rss(self._tenth(False))

    def pools(self, first: bool) -> dict[str, float]:
        ss = [s.pools for s in self._tenth(first) if s.pools]
        keys = ("cl_active", "cl_waiting", "sv_active", "sv_idle")
        return {k: round(_mean([p.get(k, 0) for p in ss]) or 0, 1) for k in keys} if ss else {}

    def checks(self) -> tuple[CheckResult, ...]:
        lim = self.limits
        (p_a, p_b), (e_a, e_b), (m_a, m_b) = self.p95, self.error_rate, self.memory
        out = []
        exp = f"p95 +{lim.p95:.0%} at most (and +{lim.min_ms:.0f} ms)"
        if p_a is None or p_b is None:
            out.append(CheckResult.errored("load.drift_p95", "no requests in a tenth", exp))
        else:
            bad = p_b > p_a * (1 + lim.p95) and p_b - p_a > lim.min_ms
            out.append(
                CheckResult.judge(
                    "load.drift_p95", not bad, f"{p_a} ms -> {p_b} ms", exp, self._p95_text()
                )
            )
        exp = f"error rate +{lim.error_rate * 100:.1f} points at most"
        if e_a is not None and e_b is not None:
            bad = e_b - e_a > lim.error_rate
            obs = f"{e_a * 100:.2f}% -> {e_b * 100:.2f}%"
            out.append(CheckResult.judge("load.drift_errors", not bad, obs, exp, obs))
        exp = f"site memory +{lim.memory:.0%} at most"
        if m_a is not None and m_b is not None:
            bad = m_b > m_a * (1 + lim.memory)
            obs = f"{m_a / 1e6:.0f} MB -> {m_b / 1e6:.0f} MB ({(m_b / m_a - 1):+.0%})"
            out.append(CheckResult.judge("load.drift_memory", not bad, obs, exp, obs))
        else:
            out.append(
                CheckResult.not_applicable(
                    "load.drift_memory", "the target exposes no process_resident_memory_bytes", exp
                )
            )
        return tuple(out)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks())

    def _p95_text(self) -> str:
        a, b = self.p95
        if a is None or b is None:
            return "p95 -"
        change = f" ({b / a - 1:+.0%})" if a else ""
        return f"p95 {a} ms -> {b} ms{change}"

    def describe(self) -> str:
        (e_a, e_b), (m_a, m_b) = self.error_rate, self.memory
        parts = [self._p95_text(), f"errors {100 * (e_a or 0):.2f}% -> {100 * (e_b or 0):.2f}%"]
        if m_a and m_b:
            parts.append(
                f"site memory {m_a / 1e6:.0f} MB -> {m_b / 1e6:.0f} MB ({m_b / m_a - 1:+.0%})"
            )
        pa, pb = self.pools(True), self.pools(False)
        if pa and pb:
            parts.append(
                f"PgBouncer clients waiting {pa['cl_waiting']:g} -> {pb['cl_waiting']:g}, "
                f"servers active {pa['sv_active']:g} -> {pb['sv_active']:g}"
            )
        return ", ".join(parts)

    def lines(self) -> list[str]:
        return [f"drift first tenth -> last tenth: {self.describe()}"] + [
            f"  {c.id}: {c.observed} {'✓' if c.ok else '✗'}" for c in self.checks()
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "text": self.describe(),
            "p95_ms": list(self.p95),
            "error_rate": list(self.error_rate),
            "memory_bytes": list(self.memory),
            "pools_first": self.pools(True),
            "pools_last": self.pools(False),
            "limits": self.limits.__dict__,
            "checks": [c.to_dict() for c in self.checks()],
            "samples": [s.__dict__ for s in self.samples],
        }

    def write_chart(self, path: Path) -> Path:
        (p_a, p_b), (e_a, e_b), (m_a, m_b) = self.p95, self.error_rate, self.memory
        limit = p_a * (1 + self.limits.p95) if p_a else None
        series: list[Any] = [
            ("p95 ms", [p_a, p_b], limit),
            ("errors %", [100 * (e_a or 0), 100 * (e_b or 0)], None),
        ]
        if m_a and m_b:
            series.append(
                ("site memory MB", [m_a / 1e6, m_b / 1e6], m_a / 1e6 * (1 + self.limits.memory))
            )
        pa, pb = self.pools(True), self.pools(False)
        if pa and pb:
            series.append(("PgBouncer clients waiting", [pa["cl_waiting"], pb["cl_waiting"]], None))
        svg = panels_svg("endurance: first tenth vs last tenth", ["first 10%", "last 10%"], series)
        path.write_text(svg, "utf-8")
        return path


def judge_drift(
    windows: Sequence[Window], samples: Sequence[Sample], run_s: float, limits: DriftLimits
) -> Drift | None:
    """``None`` when the run produced fewer than two windows (cut short)."""
    if len(windows) < 2:
        return None
    return Drift(windows[0], windows[-1], tuple(samples), run_s, limits)
