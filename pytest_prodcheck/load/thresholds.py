"""Pass/fail thresholds for a load run, written and rendered k6-style.

    >>> t = Thresholds.build(users=200, wait_min=0.5, wait_max=1.5)   # the guide's defaults
    >>> for x in t.items[:2] + t.items[4:]: print(x.expression)
    p(95) < 1000ms
    p(99) < 2000ms
    error rate < 1%
    throughput > 100 req/s
    >>> Verdict(t.items[0], observed=312, samples=900).render()
    'p(95) < 1000ms: 312ms ✓'
    >>> Verdict(t.items[2], observed=None, samples=0).render()
    'AI p(95) < 3000ms: no samples ✗'

Defaults are the guide's: P95 < 1000 ms, P99 < 2000 ms, error rate < 1 %, throughput > 100 req/s;
AI endpoints (names matching ``ai_pattern``, default ``^/api/ai/``) P95 < 3000 ms, P99 < 5000 ms,
and the plain p(95)/p(99) thresholds then cover every other endpoint. Each profile can override
``p95_ms``, ``p99_ms``, ``error_rate``, ``min_rps`` (``[load.profiles.<name>]``).

Throughput: a closed-loop user makes at most ``requests_per_task / mean think`` requests per second,
so ``users × requests_per_task / mean_think`` bounds the run however fast the target is. A floor
set for a profile at or above that bound is rejected (:class:`ConfigError`) before anything runs.
The global ``[load] min_rps`` (the guide's 100 req/s) applies where reachable; a profile too small
for it (smoke: 10 users) is judged against half its bound instead, and the verdict says so.
Percentile limits must be whole milliseconds (the 1 ms histogram then decides them exactly).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from pytest_prodcheck.config import LoadSettings
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.guide import LOAD
from pytest_prodcheck.load.journey import (
    DEFAULT_WAIT_MAX,
    DEFAULT_WAIT_MIN,
    ON_START_REQUESTS,
    requests_per_task,
)
from pytest_prodcheck.load.stats import LoadStats

Metric = Literal["p95", "p99", "error_rate", "rps"]
Group = Literal["all", "non-ai", "ai"]
PASS, FAIL = "✓", "✗"


@dataclass(frozen=True)
class Threshold:
    id: str  # evidence id, e.g. "load.p95", "load.ai_p99"
    metric: Metric
    limit: float
    group: Group = "all"
    note: str = ""  # why this limit (e.g. a derived throughput floor)

    @property
    def op(self) -> str:
        return ">" if self.metric == "rps" else "<"

    @property
    def expression(self) -> str:
        prefix = "AI " if self.group == "ai" else ""
        if self.metric in ("p95", "p99"):
            return f"{prefix}p({self.metric[1:]}) < {_num(self.limit)}ms"
        if self.metric == "error_rate":
            return f"{prefix}error rate < {_num(self.limit * 100)}%"
        return f"{prefix}throughput > {_num(self.limit)} req/s"

    def passes(self, observed: float) -> bool:
        return observed > self.limit if self.op == ">" else observed < self.limit


@dataclass(frozen=True)
class Verdict:
    threshold: Threshold
    observed: float | None  # None: the metric got no samples
    samples: int

    @property
    def ok(self) -> bool:
        return self.observed is not None and self.threshold.passes(self.observed)

    @property
    def observed_text(self) -> str:
        if self.observed is None:
            return "no samples"
        m = self.threshold.metric
        if m in ("p95", "p99"):
            return f"{_num(self.observed)}ms"
        if m == "error_rate":
            return f"{self.observed * 100:.2f}%"
        return f"{self.observed:.1f} req/s"

    def render(self) -> str:
        return f"{self.threshold.expression}: {self.observed_text} {PASS if self.ok else FAIL}"

    def to_check(self) -> CheckResult:
        msg = self.render() + (f" ({self.threshold.note})" if self.threshold.note else "")
        if self.observed is None:
            msg += f" - no request matched this threshold's group ({self.threshold.group})"
        return CheckResult.judge(
            self.threshold.id, self.ok, self.observed_text, self.threshold.expression, msg
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.threshold.id,
            "expression": self.threshold.expression,
            "observed": self.observed,
            "samples": self.samples,
            "ok": self.ok,
            "text": self.render(),
            "note": self.threshold.note,
        }


def throughput_bound(
    users: float,
    wait_min: float,
    wait_max: float,
    per_task: float,
    run_time_s: float | None = None,
    starts: float | None = None,
) -> float:
    """Highest average req/s ``users`` closed-loop users can make (zero latency); inf if no think.

    ``starts`` users (default ``users``) each make :data:`ON_START_REQUESTS` once; over a short
    ``run_time_s`` that adds ``starts × ON_START_REQUESTS / run_time_s``.
    """
    think = (wait_min + wait_max) / 2
    if think <= 0:
        return math.inf
    extra = (
        (starts if starts is not None else users) * ON_START_REQUESTS / run_time_s
        if run_time_s
        else 0.0
    )
    return users * per_task / think + extra


@dataclass(frozen=True)
class Thresholds:
    items: tuple[Threshold, ...]
    ai_pattern: str = LOAD.ai_pattern

    @classmethod
    def build(
        cls,
        *,
        users: float,
        wait_min: float = DEFAULT_WAIT_MIN,
        wait_max: float = DEFAULT_WAIT_MAX,
        p95_ms: float = LOAD.p95_ms,
        p99_ms: float = LOAD.p99_ms,
        ai_p95_ms: float | None = LOAD.ai_p95_ms,
        ai_p99_ms: float | None = LOAD.ai_p99_ms,
        error_rate: float = LOAD.error_rate,
        min_rps: float | None = LOAD.min_rps,
        profile_min_rps: float | None = None,
        ai_pattern: str = LOAD.ai_pattern,
        profile: str = "custom",
        per_task: float | None = None,
        run_time_s: float | None = None,
        starts: float | None = None,
    ) -> Thresholds:
        """Validated thresholds; ``profile_min_rps`` is strict, ``min_rps`` the global default."""
        if wait_min < 0 or wait_max < wait_min:
            raise ConfigError(
                f"[load] wait_min = {wait_min}, wait_max = {wait_max}: "
                "need 0 <= wait_min <= wait_max"
            )
        if ai_pattern:
            try:
                re.compile(ai_pattern)
            except re.error as exc:
                raise ConfigError(
                    f"[load] ai_pattern = {ai_pattern!r}: invalid regex ({exc})"
                ) from None
        group: Group = "non-ai" if ai_pattern and (ai_p95_ms or ai_p99_ms) else "all"
        items = [
            Threshold("load.p95", "p95", _whole_ms("p95_ms", p95_ms), group),
            Threshold("load.p99", "p99", _whole_ms("p99_ms", p99_ms), group),
        ]
        if ai_pattern and ai_p95_ms:
            items.append(Threshold("load.ai_p95", "p95", _whole_ms("ai_p95_ms", ai_p95_ms), "ai"))
        if ai_pattern and ai_p99_ms:
            items.append(Threshold("load.ai_p99", "p99", _whole_ms("ai_p99_ms", ai_p99_ms), "ai"))
        if not 0 < error_rate <= 1:
            raise ConfigError(
                f"[load] error_rate = {error_rate}: expected a fraction in (0, 1], e.g. 0.01"
            )
        items.append(Threshold("load.error_rate", "error_rate", error_rate))
        bound = throughput_bound(
            users, wait_min, wait_max, per_task or requests_per_task(), run_time_s, starts
        )
        why = (
            f"{_num(users)} users × {per_task or requests_per_task():.2f} requests per task / "
            f"{(wait_min + wait_max) / 2:.2f} s mean think time"
            + (f" + {ON_START_REQUESTS} start-up requests per user" if run_time_s else "")
            + f" = {bound:.1f} req/s at zero latency"
        )
        rps = _rps_threshold(bound, why, min_rps, profile_min_rps, profile)
        if rps is not None:
            items.append(rps)
        return cls(tuple(items), ai_pattern)

    @classmethod
    def from_settings(
        cls,
        load: LoadSettings,
        profile: str,
        users: float,
        *,
        run_time_s: float | None = None,
        starts: float | None = None,
    ) -> Thresholds:
        """Thresholds of ``profile`` from ``[load]``: a ``[load.profiles.<name>]`` value set for
        the profile wins over the section's (its ``min_rps`` is strict, see :meth:`build`)."""
        own = load.profiles.get(profile)

        def pick(value: float | None, default: float) -> float:
            return value if value is not None else default

        return cls.build(
            users=users,
            wait_min=load.wait_min,
            wait_max=load.wait_max,
            p95_ms=pick(own.p95_ms if own else None, load.p95_ms),
            p99_ms=pick(own.p99_ms if own else None, load.p99_ms),
            ai_p95_ms=load.ai_p95_ms,
            ai_p99_ms=load.ai_p99_ms,
            error_rate=pick(own.error_rate if own else None, load.error_rate),
            min_rps=load.min_rps,
            profile_min_rps=own.min_rps if own else None,
            ai_pattern=load.ai_pattern,
            profile=profile,
            run_time_s=run_time_s,
            starts=starts,
        )

    def evaluate(self, stats: LoadStats) -> tuple[Verdict, ...]:
        out = []
        for t in self.items:
            if t.metric == "rps":
                n = stats.total().count
                out.append(Verdict(t, stats.rps() if n else None, n))
                continue
            if t.group == "all":
                hist = stats.total()
            else:
                hist = stats.group(self.ai_pattern, invert=t.group == "non-ai")
            n = hist.count
            if t.metric == "error_rate":
                out.append(Verdict(t, hist.error_rate, n))
            else:
                out.append(Verdict(t, hist.percentile(0.95 if t.metric == "p95" else 0.99), n))
        return tuple(out)


def _rps_threshold(
    bound: float, why: str, min_rps: float | None, profile_min_rps: float | None, profile: str
) -> Threshold | None:
    if profile_min_rps is not None:
        if profile_min_rps <= 0:
            return None
        if profile_min_rps >= bound:
            raise ConfigError(
                f"[load.profiles.{profile}] min_rps = {_num(profile_min_rps)} is unreachable: "
                f"{why}; lower min_rps, add users or shorten the think time (wait_min/wait_max)"
            )
        return Threshold("load.rps", "rps", profile_min_rps, note=f"bound {bound:.1f} req/s")
    if not min_rps or min_rps <= 0:
        return None
    if min_rps < bound:
        return Threshold("load.rps", "rps", min_rps, note=f"bound {bound:.1f} req/s")
    derived = round(bound / 2, 1)
    return Threshold(
        "load.rps",
        "rps",
        derived,
        note=f"[load] min_rps {_num(min_rps)} is out of reach for profile {profile} ({why}); "
        f"judged against half the bound instead",
    )


def _whole_ms(key: str, value: float) -> float:
    if value <= 0 or float(value) != int(value):
        raise ConfigError(
            f"[load] {key} = {value}: expected a whole, positive number of milliseconds (e.g. 1000)"
        )
    return float(int(value))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"
