"""Exact percentiles from a Locust run's JSON (1 ms histogram buckets).

    >>> h = Histogram.from_times([12.7, 15.2, 15.9, 40.0, 999.6])
    >>> h.count, h.percentile(0.95), h.percentile(0.5)
    (5, 999, 15)
    >>> Histogram.empty().percentile(0.95) is None
    True

Why 1 ms buckets rather than raw timings: the injected hook (``_hook.py``) makes Locust store
``floor(response_time_ms)`` instead of its ~2-significant-digit rounding. Flooring preserves order,
so the k-th smallest bucket is exactly ``floor`` of the k-th smallest raw timing: the nearest-rank
percentile computed here equals ``floor(exact percentile)``, and for a whole-millisecond threshold
``floor(x) < T`` holds exactly when ``x < T``. Threshold decisions are therefore exact, memory is
bounded (one counter per distinct millisecond, whatever the run length: an endurance hour costs the
same as a smoke run), Locust's own merging works unchanged in distributed mode, and its HTML/CSV
report shows the same numbers. Raw timings would need a file growing with every request (hundreds
of thousands per hour) for no better decision. ``tests/test_load_stats.py`` checks this against
raw timings recorded in the same real run.

Percentile definition: nearest rank, ``x[ceil(p·n)]`` (1-based) over the sorted samples; Locust
uses rank ``floor(p·n)+1``, which differs when ``p·n`` is a whole number.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_prodcheck.core.errors import ToolError


@dataclass(frozen=True)
class Histogram:
    """Response times in 1 ms buckets (``ms -> count``) plus failure counts."""

    buckets: tuple[tuple[int, int], ...]  # sorted by ms
    failures: int = 0

    @classmethod
    def empty(cls) -> Histogram:
        return cls(())

    @classmethod
    def from_counts(cls, counts: Mapping[int, int], failures: int = 0) -> Histogram:
        return cls(tuple(sorted((int(k), int(v)) for k, v in counts.items() if v)), failures)

    @classmethod
    def from_times(cls, times_ms: Iterable[float], failures: int = 0) -> Histogram:
        return cls.from_counts(Counter(math.floor(t) for t in times_ms), failures)

    @property
    def count(self) -> int:
        return sum(c for _, c in self.buckets)

    @property
    def error_rate(self) -> float | None:
        n = self.count
        return self.failures / n if n else None

    @property
    def max_ms(self) -> int | None:
        return self.buckets[-1][0] if self.buckets else None

    def percentile(self, p: float) -> int | None:
        """Nearest-rank percentile in whole ms (floor of the exact value); ``None`` if empty."""
        if not 0 < p <= 1:
            raise ValueError(f"percentile must be in (0, 1], got {p}")
        n = self.count
        if n == 0:
            return None
        rank = max(1, math.ceil(round(p * n, 9)))
        seen = 0
        for ms, c in self.buckets:
            seen += c
            if seen >= rank:
                return ms
        return self.buckets[-1][0]

    def merged(self, other: Histogram) -> Histogram:
        counts: Counter[int] = Counter(dict(self.buckets))
        counts.update(dict(other.buckets))
        return Histogram.from_counts(counts, self.failures + other.failures)


@dataclass(frozen=True)
class Endpoint:
    method: str
    name: str
    histogram: Histogram
    start: float | None  # first request's start (epoch s)
    last: float | None  # last request's timestamp (epoch s)

    @property
    def key(self) -> str:
        return f"{self.method} {self.name}"


@dataclass(frozen=True)
class LoadStats:
    """Every endpoint of one run, and the load window used for throughput."""

    endpoints: tuple[Endpoint, ...]
    window_s: float | None = None  # from test start to stop; None -> from request timestamps

    @classmethod
    def from_locust_json(cls, path: Path, window_s: float | None = None) -> LoadStats:
        """Parse Locust's ``--json-file`` output (a list of stats entries)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ToolError(
                f"Locust wrote no JSON results ({path}): see locust.log next to it"
            ) from None
        except (OSError, ValueError) as exc:
            raise ToolError(f"Locust's JSON results {path} are unreadable: {exc}") from None
        if not isinstance(data, list):
            raise ToolError(f"Locust's JSON results {path}: expected a list of stats entries")
        return cls(tuple(_endpoint(e, path) for e in data), window_s)

    @property
    def duration_s(self) -> float | None:
        if self.window_s:
            return self.window_s
        starts = [e.start for e in self.endpoints if e.start]
        lasts = [e.last for e in self.endpoints if e.last]
        if not starts or not lasts:
            return None
        return max(max(lasts) - min(starts), 1e-9)

    def total(self) -> Histogram:
        return self.group(None)

    def group(self, pattern: str | None, invert: bool = False) -> Histogram:
        """Merged histogram of endpoints whose name matches ``pattern`` (all when ``None``)."""
        rx = re.compile(pattern) if pattern else None
        out = Histogram.empty()
        for e in self.endpoints:
            if rx is None or bool(rx.search(e.name)) != invert:
                out = out.merged(e.histogram)
        return out

    def rps(self) -> float | None:
        d = self.duration_s
        return self.total().count / d if d else None


def _endpoint(entry: Any, path: Path) -> Endpoint:
    try:
        rts = {int(k): int(v) for k, v in entry["response_times"].items()}
        return Endpoint(
            method=str(entry.get("method") or ""),
            name=str(entry["name"]),
            histogram=Histogram.from_counts(rts, int(entry.get("num_failures", 0))),
            start=entry.get("start_time"),
            last=entry.get("last_request_timestamp"),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ToolError(f"Locust's JSON results {path}: malformed entry ({exc!r})") from None


def exact_percentile(times_ms: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile of raw timings (the reference the histogram is tested against)."""
    data = sorted(times_ms)
    if not data:
        return None
    return data[max(1, math.ceil(round(p * len(data), 9))) - 1]
