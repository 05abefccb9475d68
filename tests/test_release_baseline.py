"""Load baselines: the recorded (or latest passing) run, the comparison line, the regression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pytest_prodcheck.history.records import LoadDigest
from pytest_prodcheck.release import BaselineLimits, compare, decide_release, find_baseline
from tests._history_env import SMOKE_ITEMS, load_record, run_record, summary

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
T = "shop.example.com"


def _baseline_run(when: datetime, p95: float, rps: float, *, record: bool = False, ok: bool = True):
    return run_record(
        when,
        {
            "testing.baseline-load": "passed" if ok else "failed",
            "predeploy.load-baseline": "passed",
        },
        markers="baseline",
        loads=[summary("baseline", when, p95=p95, rps=rps, ok=ok)],
        baseline_profiles=["baseline"] if record else [],
    )


def test_a_regression_fails_the_item_with_the_comparison_line() -> None:
    base = _baseline_run(NOW - timedelta(days=5), p95=305, rps=100, record=True)
    later = _baseline_run(NOW - timedelta(hours=2), p95=412, rps=98)
    smoke = run_record(NOW, dict.fromkeys(SMOKE_ITEMS, "passed"))
    rr = decide_release([base, later, smoke], now=NOW)
    item = rr.item("testing.baseline-load")
    assert item.status == "failed" and item.run_id == later.run_id
    assert "p95 412 ms vs baseline 305 ms (+35 %) > +25 % allowed" in item.evidence
    assert item.notes[0].startswith("regressed against the baseline: p95 412 ms vs baseline")
    assert rr.item("predeploy.load-baseline").status == "failed"
    assert rr.verdict == "NO-GO"
    [cmp] = rr.comparisons
    assert cmp.regressed and cmp.baseline is not None and cmp.baseline.record.run_id == base.run_id
    assert cmp.lines[0] == "p95 412 ms vs baseline 305 ms (+35 %) > +25 % allowed"
    assert cmp.lines[1] == "throughput 98.0 req/s vs baseline 100.0 req/s (−2 %)"


def test_within_limits_passes_and_shows_the_comparison() -> None:
    base = _baseline_run(NOW - timedelta(days=5), p95=305, rps=100, record=True)
    later = _baseline_run(NOW - timedelta(hours=2), p95=360, rps=85)  # +18 %, −15 %
    rr = decide_release([base, later], now=NOW)
    item = rr.item("testing.baseline-load")
    assert item.status == "passed"
    assert "p95 360 ms vs baseline 305 ms (+18 %)" in item.evidence
    assert "throughput 85.0 req/s vs baseline 100.0 req/s (−15 %)" in item.evidence


def test_throughput_drop_beyond_the_limit_regresses() -> None:
    base = _baseline_run(NOW - timedelta(days=5), p95=305, rps=100)
    later = _baseline_run(NOW - timedelta(hours=2), p95=300, rps=75)
    cmp = compare(
        later.load[0],
        find_baseline([base, later], T, "baseline", exclude_run=later.run_id),
        BaselineLimits(),
    )
    assert cmp.regressed
    assert cmp.lines[1] == "throughput 75.0 req/s vs baseline 100.0 req/s (−25 %) < −20 % allowed"
    looser = compare(later.load[0], find_baseline([base], T, "baseline"), BaselineLimits(25, 30))
    assert not looser.regressed


def test_a_small_p95_rise_is_noise_not_a_regression() -> None:
    """12 → 16 ms is +33 %, but 4 ms: below the 50 ms floor it is shown, never a failure."""
    base = _baseline_run(NOW - timedelta(days=1), p95=12, rps=100)
    later = LoadDigest.from_summary(summary("baseline", NOW, p95=16, rps=100))
    cmp = compare(later, find_baseline([base], T, "baseline"), BaselineLimits())
    assert not cmp.regressed
    assert cmp.lines[0] == "p95 16 ms vs baseline 12 ms (+33 %) (within the 50 ms noise floor)"
    strict = compare(later, find_baseline([base], T, "baseline"), BaselineLimits(25, 20, 0))
    assert strict.regressed and strict.lines[0].endswith("> +25 % allowed")


def test_the_recorded_baseline_wins_over_the_latest_passing_run() -> None:
    recorded = load_record(
        NOW - timedelta(days=20),
        [summary("baseline", NOW - timedelta(days=20), p95=200)],
        record_baseline=True,
    )
    passing = _baseline_run(NOW - timedelta(days=2), p95=400, rps=100)
    failing = _baseline_run(NOW - timedelta(days=1), p95=900, rps=100, ok=False)
    got = find_baseline([recorded, passing, failing], T, "baseline")
    assert got is not None and got.explicit and got.record.run_id == recorded.run_id
    fallback = find_baseline([passing, failing], T, "baseline")
    assert (
        fallback is not None and not fallback.explicit and fallback.record.run_id == passing.run_id
    )
    assert find_baseline([passing], "other.example.com", "baseline") is None


def test_different_user_counts_are_not_compared() -> None:
    base = _baseline_run(NOW - timedelta(days=5), p95=305, rps=100, record=True)
    small = LoadDigest.from_summary(summary("baseline", NOW, p95=900, users=10))
    cmp = compare(small, find_baseline([base], T, "baseline"), BaselineLimits())
    assert not cmp.regressed and not cmp.comparable
    assert cmp.line == "not compared with the baseline (10 users vs 50 differ)"
    none = compare(small, None, BaselineLimits())
    assert none.line == "no baseline yet (record one: prodcheck load baseline --record)"
    assert not none.regressed


# --- prodcheck load PROFILE --record / later runs compared (real Locust against a real server) --

FAST = ["--duration", "3", "--users", "5", "--spawn-rate", "5", "--set", "load.wait_min=0.05",
        "--set", "load.wait_max=0.1", "--set", "load.min_rps=1"]  # fmt: skip


def test_load_cli_records_a_baseline_and_fails_a_regression(tmp_path, capsys) -> None:
    import json

    from pytest_prodcheck.cli import main
    from pytest_prodcheck.history import DirStore
    from tests._load_target import Target

    # two servers on two ports: [history] target names them as one target
    reports = ["--report-dir", str(tmp_path), "--set", "history.target=shop"]
    with Target() as fast:
        rc = main(["load", "baseline", "--host", fast.url, "--record", *reports, *FAST])
        out = capsys.readouterr().out
        assert rc == 0, out
        assert (
            "load baseline: no baseline yet (record one: prodcheck load baseline --record)" in out
        )
        assert "recorded as the baseline of profile baseline on shop: " in out
    with Target("--delay", "/=150") as slow:
        rc = main(["load", "baseline", "--host", slow.url, *reports, *FAST])
        out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("load baseline: p95 "))
    assert rc == 1, out
    assert " vs baseline " in line and "> +25 % allowed" in line
    records = DirStore(tmp_path / "history").read().records
    assert [r.kind for r in records] == ["load", "load"]
    assert records[0].baseline_profiles == ("baseline",) and records[1].baseline_profiles == ()
    summary = json.loads(next((tmp_path / "load").glob("baseline-*/summary.json")).read_text())
    assert summary["name"] == "baseline"


def test_a_failing_run_is_never_recorded_as_baseline(tmp_path, capsys) -> None:
    from pytest_prodcheck.cli import main
    from pytest_prodcheck.history import DirStore
    from tests._load_target import Target

    with Target("--fail", "/api/=1.0") as bad:
        rc = main(["load", "baseline", "--host", bad.url, "--record",
                   "--report-dir", str(tmp_path), *FAST])  # fmt: skip
    captured = capsys.readouterr()
    assert rc == 1
    assert "baseline not recorded: this baseline run did not pass its thresholds" in captured.out
    assert captured.err.strip().endswith(
        "prodcheck: error: a failing or invalid run cannot be a baseline; fix the target and run again"
    )
    assert DirStore(tmp_path / "history").read().records == ()


def test_baseline_check_for_the_suite(tmp_path) -> None:
    from pytest_prodcheck.config import load_settings
    from pytest_prodcheck.history import DirStore
    from pytest_prodcheck.release.service import baseline_check

    settings = load_settings(None, {"report_dir": str(tmp_path), "history.target": "shop"}, {})
    now = datetime.now(UTC)
    first = summary("baseline", now, p95=305, rps=100)
    assert baseline_check(settings, first, {}).status == "n/a"  # nothing to compare with yet
    DirStore(tmp_path / "history").append(
        load_record(now - timedelta(hours=1), [first], target="shop")
    )
    ok = baseline_check(settings, summary("baseline", now, p95=330, rps=95), {})
    assert ok.ok and ok.observed.startswith("p95 330 ms vs baseline 305 ms (+8 %)")
    bad = baseline_check(settings, summary("baseline", now, p95=412, rps=98), {})
    assert bad.status == "fail"
    assert bad.message.startswith("regressed: p95 412 ms vs baseline 305 ms (+35 %)")
