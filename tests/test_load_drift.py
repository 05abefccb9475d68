"""load/drift.py: endurance compares its first and last tenth (real targets that degrade)."""

from __future__ import annotations

from pathlib import Path

from _load_target import Target

from pytest_prodcheck.config import load_settings
from pytest_prodcheck.load.api import execute, plan_load
from pytest_prodcheck.load.drift import DriftLimits, Sample, judge_drift
from pytest_prodcheck.load.windows import windows_from_snapshots


def _snap(t: float, times: dict[int, int], failures: int = 0) -> dict:
    return {"t": t, "users": 10, "entries": [["/a", "GET", sum(times.values()), failures, times]]}


def test_judged_on_first_and_last_tenth_with_an_absolute_floor():
    ws = windows_from_snapshots(
        [_snap(10, {10: 100}), _snap(90, {10: 900}), _snap(100, {10: 900, 30: 100})]
    )
    samples = [Sample(1, 100e6, {}), Sample(50, 150e6, {}), Sample(95, 120e6, {})]
    drift = judge_drift(ws, samples, 100, DriftLimits())
    assert drift is not None
    by_id = {c.id: c for c in drift.checks()}
    assert by_id["load.drift_p95"].status == "pass"  # 10 -> 30 ms: +200 %, but only +20 ms
    assert by_id["load.drift_memory"].status == "pass"  # 100 -> 120 MB: +20 %
    strict = judge_drift(ws, samples, 100, DriftLimits(min_ms=10, memory=0.1))
    assert strict is not None and not strict.ok
    assert {c.id for c in strict.checks() if not c.ok} == {"load.drift_p95", "load.drift_memory"}
    assert judge_drift(ws[:1], samples, 100, DriftLimits()) is None


def _endurance(tmp_path: Path, target: Target, metrics: bool = False):
    settings = load_settings(
        None, {"load.wait_min": 0.05, "load.wait_max": 0.2, "load.min_rps": 5}, env={}
    )
    plan = plan_load(settings, "endurance", host=target.url, duration_s=10, users=10,
                     out_dir=tmp_path / "endurance",
                     metrics_url=f"{target.url}/metrics" if metrics else None)  # fmt: skip
    assert plan.spec.snapshots_s == (1.0, 9.0)
    return execute(plan)


def test_a_site_that_slows_down_fails_on_p95_drift(tmp_path):
    with Target("--degrade", "25") as target:  # +25 ms per second of run
        o = _endurance(tmp_path, target)
    assert o.drift is not None and not o.ok
    failed = {c.id for c in o.checks() if c.status == "fail"}
    assert "load.drift_p95" in failed, o.lines()
    assert (tmp_path / "endurance" / "drift.svg").exists()


def test_a_site_that_leaks_memory_fails_on_memory_drift(tmp_path):
    with Target("--leak", "256") as target:  # 256 KiB kept per request
        o = _endurance(tmp_path, target, metrics=True)
    assert o.drift is not None
    mem = next(c for c in o.checks() if c.id == "load.drift_memory")
    assert mem.status == "fail", o.lines()
    assert any(c.id == "load.drift_p95" and c.status == "pass" for c in o.checks())


def test_a_steady_site_passes_the_drift_checks(tmp_path):
    with Target() as target:
        o = _endurance(tmp_path, target, metrics=True)
    assert o.ok, o.lines()
    assert o.drift is not None and "site memory" in o.drift.describe()
