"""Thresholds: defaults, k6-style rendering, no-samples, throughput bound — pure, no Locust."""

from __future__ import annotations

import pytest

from pytest_prodcheck.config import load_settings
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.load.api import plan_load
from pytest_prodcheck.load.stats import Endpoint, Histogram, LoadStats
from pytest_prodcheck.load.thresholds import Thresholds, throughput_bound


def _stats(window_s: float = 10.0, **groups: tuple[list[float], int]) -> LoadStats:
    eps = tuple(
        Endpoint("GET", name.replace("_", "/"), Histogram.from_times(times, fails), None, None)
        for name, (times, fails) in groups.items()
    )
    return LoadStats(eps, window_s=window_s)


def _by_id(verdicts):
    return {v.threshold.id: v for v in verdicts}


def test_guide_defaults_and_rendering():
    t = Thresholds.build(users=500)
    texts = [x.expression for x in t.items]
    assert texts == ["p(95) < 1000ms", "p(99) < 2000ms", "AI p(95) < 3000ms",
                     "AI p(99) < 5000ms", "error rate < 1%", "throughput > 100 req/s"]  # fmt: skip
    stats = _stats(window_s=10, _api_products=([312.4] * 1000, 0), _api_ai_x=([850.2] * 100, 0))
    v = _by_id(t.evaluate(stats))
    assert v["load.p95"].render() == "p(95) < 1000ms: 312ms ✓"
    assert v["load.ai_p95"].render() == "AI p(95) < 3000ms: 850ms ✓"
    assert v["load.error_rate"].render() == "error rate < 1%: 0.00% ✓"
    assert v["load.rps"].render() == "throughput > 100 req/s: 110.0 req/s ✓"
    assert all(x.ok for x in v.values())


def test_ai_requests_are_judged_only_by_the_ai_thresholds():
    t = Thresholds.build(users=500, min_rps=None)
    stats = _stats(_api_products=([100.0] * 100, 0), _api_ai_recs=([2500.0] * 100, 0))
    v = _by_id(t.evaluate(stats))
    assert v["load.p95"].ok and v["load.ai_p95"].ok  # 2500 ms would fail the plain p95
    assert not v["load.ai_p99"].threshold.passes(5000)


def test_thresholds_fail_when_exceeded():
    t = Thresholds.build(users=500)
    slow = [100.0] * 90 + [1000.0] * 10  # p95 = 1000ms: "< 1000" must fail
    stats = _stats(window_s=100, _api_products=(slow, 2), _api_ai_x=([5000.0] * 10, 0))
    v = _by_id(t.evaluate(stats))
    assert v["load.p95"].render() == "p(95) < 1000ms: 1000ms ✗"
    assert not v["load.ai_p99"].ok
    assert v["load.error_rate"].render() == "error rate < 1%: 1.82% ✗"
    assert v["load.rps"].render() == "throughput > 100 req/s: 1.1 req/s ✗"


def test_a_threshold_without_samples_fails():
    t = Thresholds.build(users=500)
    v = _by_id(t.evaluate(_stats(_api_products=([10.0] * 50, 0))))  # no AI request at all
    assert v["load.ai_p95"].render() == "AI p(95) < 3000ms: no samples ✗"
    assert not v["load.ai_p95"].ok and v["load.ai_p95"].samples == 0
    check = v["load.ai_p95"].to_check()
    assert check.status == "fail" and "no request matched" in check.message
    empty = _by_id(t.evaluate(LoadStats(())))
    assert not any(x.ok for x in empty.values())
    assert empty["load.rps"].render() == "throughput > 100 req/s: no samples ✗"


def test_unreachable_profile_floor_is_rejected_with_an_explanation():
    assert throughput_bound(10, 0.5, 1.5, 1.2) == pytest.approx(12.0)
    with pytest.raises(ConfigError) as exc:
        Thresholds.build(users=10, profile_min_rps=100, profile="smoke")
    msg = str(exc.value)
    assert msg.startswith("[load.profiles.smoke] min_rps = 100 is unreachable")
    assert "10 users" in msg and "mean think time" in msg and "lower min_rps" in msg


def test_global_floor_out_of_reach_is_derived_and_explained():
    t = Thresholds.build(users=10, min_rps=100, profile="smoke")
    rps = _by_id(t.evaluate(LoadStats(())))["load.rps"].threshold
    assert rps.limit == pytest.approx(throughput_bound(10, 0.5, 1.5, _per_task()) / 2, abs=0.1)
    assert "out of reach for profile smoke" in rps.note


def _per_task() -> float:
    from pytest_prodcheck.load.journey import requests_per_task

    return requests_per_task()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"p95_ms": 999.5}, "whole, positive number of milliseconds"),
        ({"error_rate": 5}, "expected a fraction"),
        ({"ai_pattern": "(["}, "invalid regex"),
        ({"wait_min": 2, "wait_max": 1}, "wait_min <= wait_max"),
    ],
)
def test_bad_threshold_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Thresholds.build(users=10, **kwargs)


def test_plan_rejects_unreachable_floor_from_prodcheck_toml(tmp_path):
    cfg = tmp_path / "prodcheck.toml"
    cfg.write_text("[load.profiles.smoke]\nmin_rps = 100\n")
    settings = load_settings(cfg, {}, env={})
    with pytest.raises(ConfigError, match=r"\[load.profiles.smoke\] min_rps = 100 is unreachable"):
        plan_load(settings, "smoke", host="http://127.0.0.1:9", out_dir=tmp_path / "x")
    # the same floor is fine for stress (200 users)
    cfg.write_text("[load.profiles.stress]\nmin_rps = 100\n")
    plan = plan_load(load_settings(cfg, {}, env={}), "stress", host="http://h", out_dir=tmp_path)
    assert [t.limit for t in plan.thresholds.items if t.metric == "rps"] == [100]


def test_plan_uses_settings_per_profile_and_paths(tmp_path):
    cfg = tmp_path / "prodcheck.toml"
    cfg.write_text(
        '[load]\np95_ms = 800\nwait_min = 0.1\nwait_max = 0.3\npaths = ["search=/v2/find"]\n'
        "[load.profiles.baseline]\np99_ms = 1500\nusers = 20\n"
    )
    plan = plan_load(load_settings(cfg, {}, env={}), "baseline", host="http://h/",
                     duration_s=30, out_dir=tmp_path / "o")  # fmt: skip
    limits = {t.id: t.limit for t in plan.thresholds.items}
    assert limits["load.p95"] == 800 and limits["load.p99"] == 1500
    assert plan.spec.users == 20 and plan.spec.run_time_s == 30 and plan.spec.host == "http://h"
    assert plan.spec.locust_config["paths"]["search"] == "/v2/find"
    assert plan.spec.locust_config["wait_min"] == 0.1
    with pytest.raises(ConfigError, match="expected KEY=/path"):
        cfg.write_text('[load]\npaths = ["search"]\n')
        plan_load(load_settings(cfg, {}, env={}), "smoke", host="http://h", out_dir=tmp_path)


def _health(cpu: float, lag_p95: float, lag_max: float):
    from pytest_prodcheck.load.runner import GeneratorHealth, ProcessUsage

    proc = ProcessUsage("local", 1, 0, 10.0, cpu * 10, 10.0, cpu * 10, lag_p95, lag_max, False)
    return GeneratorHealth((proc,), max_cpu_ratio=0.9, max_loop_lag_ms=100)


def test_validity_under_a_saturated_generator():
    from pytest_prodcheck.load.api import judge_validity

    t = Thresholds.build(users=500, min_rps=None)
    ok = t.evaluate(_stats(_api_products=([100.0] * 100, 0), _api_ai_x=([200.0] * 10, 0)))
    slow = t.evaluate(_stats(_api_products=([1100.0] * 100, 0), _api_ai_x=([200.0] * 10, 0)))
    errs = t.evaluate(_stats(_api_products=([100.0] * 100, 50), _api_ai_x=([200.0] * 10, 0)))
    healthy, cpu_bound, laggy = _health(0.2, 5, 20), _health(0.97, 300, 600), _health(0.3, 150, 250)
    assert judge_validity(healthy, slow) == (True, "")
    # a pass under a saturated generator proves nothing: the target got less load than asked
    valid, why = judge_validity(cpu_bound, ok)
    assert not valid and "saturated" in why and "less load" in why
    assert judge_validity(laggy, ok)[0] is False
    # a CPU-bound generator could explain any failure: invalid
    valid, why = judge_validity(cpu_bound, slow)
    assert not valid and "saturated" in why and "97%" in why
    # lag alone (max 250 ms) cannot explain p95 = 1100 vs 1000 ... but can explain 1100 vs 900
    assert judge_validity(laggy, slow)[0] is False  # 1100 - 250 < 1000
    very_slow = t.evaluate(_stats(_api_products=([1300.0] * 100, 0), _api_ai_x=([9.0] * 10, 0)))
    assert judge_validity(laggy, very_slow)[0] is True  # 1300 - 250 >= 1000: the target's
    assert judge_validity(laggy, errs)[0] is True  # HTTP errors come from the target
    assert judge_validity(cpu_bound, errs)[0] is False
