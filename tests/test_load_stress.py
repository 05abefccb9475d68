"""load/stress.py + shapes.steps_shape + windows: the stress steps find the breaking point."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _load_target import Target

from pytest_prodcheck.config import load_settings
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.load.api import execute, plan_load
from pytest_prodcheck.load.shapes import parse_steps, steps_shape
from pytest_prodcheck.load.stress import find_knee
from pytest_prodcheck.load.thresholds import Thresholds
from pytest_prodcheck.load.windows import windows_from_snapshots


def _snap(t: float, users: int, times: dict[int, int], failures: int = 0) -> dict:
    n = sum(times.values())
    return {"t": t, "users": users, "entries": [["/api/x", "GET", n, failures, times]]}


def test_windows_are_differences_of_cumulative_snapshots():
    ws = windows_from_snapshots(
        [_snap(10, 5, {10: 100}), _snap(20, 10, {10: 150, 900: 50}, failures=2)]
    )
    assert [(w.start_s, w.end_s, w.users) for w in ws] == [(0, 10, 5), (10, 20, 10)]
    second = ws[1].stats.total()
    assert second.count == 100 and second.failures == 2 and second.percentile(0.95) == 900
    assert ws[1].stats.rps() == 10.0


def test_knee_is_the_last_step_before_the_first_broken_one():
    snaps = [
        _snap(10, 50, {20: 500}),
        _snap(20, 100, {20: 1500}),
        _snap(30, 150, {20: 1500, 1400: 400}),
        _snap(40, 200, {20: 1500, 1400: 2400}),
    ]
    steps = [
        (u, Thresholds.build(users=u, min_rps=None, ai_pattern="")) for u in (50, 100, 150, 200)
    ]
    knee = find_knee(windows_from_snapshots(snaps), steps, target_users=200)
    assert not knee.ok and knee.knee is not None and knee.knee.users == 100
    assert knee.describe().startswith("breaks at 150 users (p95 1.4 s); knee 100 users")
    check = knee.to_check()
    assert check.status == "fail" and check.observed == "100 users"
    assert len(knee.lines()) == 4 and "✗ p95 1.4 s" in knee.lines()[2]


def test_steps_settings():
    assert parse_steps("", 200) == (50, 100, 150, 200)
    assert steps_shape((10, 20), 30, 5).stages == ((15.0, 10), (30.0, 20))
    for bad in ("10,5", "a,b", "0,10"):
        with pytest.raises(ConfigError, match="stress_steps"):
            parse_steps(bad, 200)


def _settings(**extra: object):
    opts = {"load.wait_min": 0.05, "load.wait_max": 0.2, "load.min_rps": 5, **extra}
    return load_settings(None, opts, env={})


def _stress(tmp_path: Path, target: Target, **extra: object):
    plan = plan_load(_settings(**extra), "stress", host=target.url, duration_s=12, users=32,
                     out_dir=tmp_path / "stress")  # fmt: skip
    assert [u for u, _ in plan.steps] == [
        int(s) for s in str(extra["load.stress_steps"]).split(",")
    ]
    return execute(plan)


def test_a_site_with_a_fixed_capacity_breaks_at_the_step_beyond_it(tmp_path):
    # one request at a time, 8 ms each (~125 req/s); a user makes ~10 req/s
    with Target("--serial", "8") as target:
        o = _stress(tmp_path, target, **{"load.stress_steps": "4,8,32", "load.p95_ms": 100})
    assert o.knee is not None and not o.ok
    assert o.knee.broke is not None and o.knee.broke.users == 32, o.knee.lines()
    assert o.knee.knee is not None and o.knee.knee.users in (4, 8)
    assert "breaks at 32 users (p95" in o.knee.describe()
    assert (tmp_path / "stress" / "steps.svg").read_text().startswith("<svg")
    assert any(c.id == "load.knee" and c.status == "fail" for c in o.checks())


def test_a_really_slow_site_breaks_at_the_first_step_and_fails_on_p95(tmp_path):
    with Target("--delay", "/=1200") as target:
        o = _stress(tmp_path, target, **{"load.stress_steps": "4,8"})
    assert not o.ok
    assert o.knee is not None and o.knee.describe().startswith("breaks at 4 users (p95 1.2 s)")
    p95 = next(v for v in o.verdicts if v.threshold.id == "load.p95")
    assert not p95.ok and p95.observed is not None and p95.observed >= 1200


def test_a_healthy_site_has_its_knee_at_the_profile_users(tmp_path):
    with Target() as target:
        o = _stress(tmp_path, target, **{"load.stress_steps": "8,16,32"})
    assert o.ok, o.lines()
    assert o.knee is not None and o.knee.knee is not None and o.knee.knee.users == 32
    assert os.path.exists(o.charts["steps"])
