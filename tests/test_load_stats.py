"""Exact percentiles: 1 ms histogram vs raw timings (synthetic edge cases and a real Locust run)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from _load_target import Target

from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.load.runner import RunSpec, run_locust
from pytest_prodcheck.load.stats import Histogram, LoadStats, exact_percentile

PCTS = (0.5, 0.9, 0.95, 0.99, 1.0)


def test_histogram_percentile_is_floor_of_the_exact_nearest_rank():
    rng = random.Random(7)
    for n in (1, 2, 7, 100, 101, 999, 5000):
        times = [rng.lognormvariate(4, 1) for _ in range(n)]
        h = Histogram.from_times(times)
        for p in PCTS:
            exact = exact_percentile(times, p)
            assert exact is not None
            assert h.percentile(p) == math.floor(exact), (n, p)


@pytest.mark.parametrize(
    ("low", "high", "threshold", "passes"),
    [
        (990.0, 999.9, 1000, True),  # Locust's rounding reports 1000 -> a false failure
        (1000.0, 1049.9, 1000, False),
        (1950.0, 1999.9, 2000, True),
        (2950.0, 2999.9, 3000, True),
    ],
)
def test_decisions_near_the_edge_are_exact(low, high, threshold, passes):
    times = [low + (high - low) * i / 9999 for i in range(10000)]
    h = Histogram.from_times(times)
    exact = exact_percentile(times, 0.95)
    assert exact is not None
    assert ((h.percentile(0.95) or 0) < threshold) is (exact < threshold) is passes


def test_empty_and_merge():
    assert Histogram.empty().percentile(0.99) is None
    assert Histogram.empty().error_rate is None
    a, b = Histogram.from_times([1, 2, 3], 1), Histogram.from_times([3, 4], 1)
    m = a.merged(b)
    assert (m.count, m.failures, m.percentile(1.0)) == (5, 2, 4)
    with pytest.raises(ValueError):
        m.percentile(0)


def test_bad_locust_json_is_a_tool_error(tmp_path: Path):
    with pytest.raises(ToolError, match="wrote no JSON"):
        LoadStats.from_locust_json(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ToolError, match="unreadable"):
        LoadStats.from_locust_json(tmp_path / "bad.json")
    (tmp_path / "odd.json").write_text('[{"name": "/x"}]')
    with pytest.raises(ToolError, match="malformed"):
        LoadStats.from_locust_json(tmp_path / "odd.json")


def test_real_run_percentiles_match_raw_timings(tmp_path: Path):
    """A real Locust run of the bundled journey: every endpoint, group and the total."""
    with Target("--delay", "/api/ai/=120", "--delay", "/api/search=35") as target:
        spec = RunSpec(host=target.url, out_dir=tmp_path / "run", users=20, spawn_rate=20,
                       run_time_s=4, raw_timings=True,
                       locust_config={"wait_min": 0.05, "wait_max": 0.2})  # fmt: skip
        run = run_locust(spec)
    raw = run.raw_timings()
    assert len(raw) == run.stats.total().count > 200
    groups = {"total": [ms for _, _, ms in raw],
              "ai": [ms for _, n, ms in raw if n.startswith("/api/ai/")]}  # fmt: skip
    for e in run.stats.endpoints:
        times = [ms for m, n, ms in raw if (m, n) == (e.method, e.name)]
        assert len(times) == e.histogram.count
        for p in PCTS:
            assert e.histogram.percentile(p) == math.floor(exact_percentile(times, p) or 0), e.key
    for name, hist in (("total", run.stats.total()), ("ai", run.stats.group("^/api/ai/"))):
        assert hist.count == len(groups[name]) > 0
        for p in PCTS:
            assert hist.percentile(p) == math.floor(exact_percentile(groups[name], p) or 0), name
