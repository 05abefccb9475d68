"""Stats of time windows of one run, from the hook's cumulative snapshots (``windows.jsonl``).

    >>> ws = read_windows(Path("reports/load/stress-…/windows.jsonl"))   # doctest: +SKIP
    >>> [(w.start_s, w.end_s, w.users) for w in ws]                       # doctest: +SKIP
    [(0.0, 15.0, 50), (15.0, 30.0, 100), (30.0, 45.0, 150), (45.0, 60.2, 200)]

The hook (``_hook.py``) writes Locust's cumulative per-endpoint histograms at chosen times and at
the stop; a window's histogram is the difference of two consecutive snapshots, so each window is
judged on exactly the requests that finished inside it (1 ms buckets, as the whole run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_prodcheck.load.stats import Endpoint, Histogram, LoadStats


@dataclass(frozen=True)
class Window:
    start_s: float  # seconds after the test start
    end_s: float
    users: int  # users running at the window's end
    stats: LoadStats

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _entries(snap: dict[str, Any]) -> dict[tuple[str, str], tuple[dict[int, int], int]]:
    out: dict[tuple[str, str], tuple[dict[int, int], int]] = {}
    for name, method, _n, failures, times in snap.get("entries", ()):
        out[(str(method), str(name))] = ({int(k): int(v) for k, v in times.items()}, int(failures))
    return out


def windows_from_snapshots(snaps: list[dict[str, Any]]) -> list[Window]:
    """Consecutive differences of cumulative snapshots (the first window starts at 0)."""
    out: list[Window] = []
    prev: dict[tuple[str, str], tuple[dict[int, int], int]] = {}
    prev_t = 0.0
    for snap in sorted(snaps, key=lambda s: float(s.get("t", 0))):
        cur = _entries(snap)
        t = float(snap.get("t", 0))
        endpoints = []
        for (method, name), (times, failures) in sorted(cur.items()):
            before, before_fail = prev.get((method, name), ({}, 0))
            diff = {ms: c - before.get(ms, 0) for ms, c in times.items() if c > before.get(ms, 0)}
            hist = Histogram.from_counts(diff, max(0, failures - before_fail))
            if hist.count or hist.failures:
                endpoints.append(Endpoint(method, name, hist, None, None))
        if t > prev_t:
            window_s = t - prev_t
            out.append(
                Window(prev_t, t, int(snap.get("users", 0)), LoadStats(tuple(endpoints), window_s))
            )
        prev, prev_t = cur, t
    return out


def read_windows(path: Path) -> list[Window]:
    """The windows of ``windows.jsonl`` (empty list if the run wrote none)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    snaps = []
    for line in text.splitlines():
        try:
            snaps.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a kill
    return windows_from_snapshots(snaps)
