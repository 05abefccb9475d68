"""``suites/test_load.py`` end to end: markers, evidence, failure text, and no overlap under xdist."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _load_target import Target

ROOT = Path(__file__).resolve().parents[1]


def _pytest(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "prodcheck.toml"
    cfg.write_text("[load]\nwait_min = 0.05\nwait_max = 0.2\nmin_rps = 5\n")
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "suites" / "test_load.py"),
           "--prodcheck-url", url, "--prodcheck-load-duration", "2",
           "--prodcheck-config", str(cfg), "--prodcheck-report-dir", str(tmp_path / "reports"),
           "-p", "no:cacheprovider", *args]  # fmt: skip
    # a private lock: other sessions' load runs on this shared box must not stall these tests
    env = {**os.environ, "PRODCHECK_LOAD_LOCK": str(tmp_path / "load.lock")}
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


@pytest.fixture(scope="module")
def target():
    with Target() as t:
        yield t


def test_smoke_profile_passes_and_links_the_checklist(target, tmp_path):
    res = _pytest(tmp_path, target.url, "-m", "smoke and load")
    assert res.returncode == 0, res.stdout[-3000:]
    assert "1 passed" in res.stdout
    report = json.loads((tmp_path / "reports" / "checklist.json").read_text())
    item = next(i for i in report["items"] if i["id"] == "testing.smoke")
    assert item["status"] == "passed"
    texts = " ".join(e["message"] for e in item["evidence"])
    assert "p(95) < 1000ms:" in texts and "✓" in texts
    assert any(e["source"].endswith("locust.html") for e in item["evidence"])


def test_failing_target_fails_with_k6_style_lines(tmp_path):
    with Target("--fail", "/api/=0.5") as bad:
        res = _pytest(tmp_path, bad.url, "-m", "smoke and load")
    assert res.returncode == 1
    assert "load thresholds failed" in res.stdout and "error rate < 1%:" in res.stdout
    assert "✗" in res.stdout and "1 failed" in res.stdout
    assert _item(tmp_path, "testing.smoke")["status"] == "failed"


def test_a_run_that_cannot_judge_the_site_is_an_error_not_a_failure(tmp_path):
    """Unreachable target (or Locust crashed, hung and killed, generator saturated): ERROR."""
    res = _pytest(tmp_path, "http://127.0.0.1:9", "-m", "smoke and load")
    assert res.returncode == 1 and "1 error" in res.stdout, res.stdout[-3000:]
    assert "unreachable" in res.stdout
    item = _item(tmp_path, "testing.smoke")
    assert item["status"] == "error"
    run = next(e for e in item["evidence"] if e["name"] == "load.run")
    assert run["status"] == "error" and "unreachable" in run["message"]


def _seed_baseline(tmp_path: Path, url: str, p95: float, rps: float) -> None:
    """A passing smoke run of this target yesterday, recorded with ``--record`` as its baseline."""
    from datetime import UTC, datetime, timedelta

    from _history_env import run_record, summary

    from pytest_prodcheck.history import DirStore

    at = datetime.now(UTC) - timedelta(days=1)
    load = summary("smoke", at, p95=p95, p99=p95 * 2, rps=rps, users=10)
    record = run_record(at, {"testing.smoke": "passed"}, url=url, loads=[load],
                        baseline_profiles=["smoke"])  # fmt: skip
    DirStore(tmp_path / "reports" / "history").append(record)


def test_a_run_that_regressed_against_its_baseline_fails_with_the_comparison(tmp_path):
    with Target("--delay", "/=100") as slow:  # every response 100 ms slower than the baseline's
        _seed_baseline(tmp_path, slow.url, p95=0.2, rps=100000.0)
        res = _pytest(tmp_path, slow.url, "-m", "smoke and load")
    assert res.returncode == 1, res.stdout[-3000:]
    assert "load regressed against its baseline:" in res.stdout
    assert re.search(r"p95 [\d.]+ ms vs baseline 0\.2 ms \(\+\d+ %\) > \+25 % allowed", res.stdout)
    item = _item(tmp_path, "testing.smoke")
    assert item["status"] == "failed"
    base = next(e for e in item["evidence"] if e["name"] == "load.baseline")
    assert base["status"] == "fail" and "vs baseline" in base["observed"]


def test_a_run_within_its_baseline_passes_and_shows_the_comparison(target, tmp_path):
    _seed_baseline(tmp_path, target.url, p95=60000.0, rps=0.01)  # nobody is that slow
    res = _pytest(tmp_path, target.url, "-m", "smoke and load")
    assert res.returncode == 0, res.stdout[-3000:]
    base = next(e for e in _item(tmp_path, "testing.smoke")["evidence"]
                if e["name"] == "load.baseline")  # fmt: skip
    assert base["status"] == "pass" and "vs baseline 60000 ms" in base["observed"]


def _item(tmp_path: Path, item_id: str) -> dict:
    report = json.loads((tmp_path / "reports" / "checklist.json").read_text())
    return next(i for i in report["items"] if i["id"] == item_id)


def test_profiles_never_overlap_under_xdist(target, tmp_path):
    res = _pytest(tmp_path, target.url, "-m", "load and (smoke or baseline)", "-n", "2",
                  "--dist", "loadgroup")  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:]
    assert "2 passed" in res.stdout
    windows = []
    for meta in (tmp_path / "reports" / "load").glob("*/meta-local-*.json"):
        m = json.loads(meta.read_text())
        windows.append((m["start"], m["stop"]))
    assert len(windows) == 2
    (_, a_stop), (b_start, _) = sorted(windows)
    assert a_stop <= b_start


def test_markers_and_links():
    spec = importlib.util.spec_from_file_location("_suite_load", ROOT / "suites" / "test_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "load" in {m.name for m in module.pytestmark}
    links: dict[str, set[str]] = {}
    for profile in ("smoke", "baseline", "stress", "spike", "endurance"):
        marks = getattr(module, f"test_load_{profile}").pytestmark
        assert profile in {m.name for m in marks}
        links[profile] = {a for m in marks if m.name == "checklist" for a in m.args}
    assert links["smoke"] == {"testing.smoke"}
    assert links["baseline"] == {"testing.baseline-load", "predeploy.load-baseline"}
    assert links["stress"] == {"testing.stress"}


@pytest.mark.parametrize("plugin", ["-p no:xdist", ""])
def test_collects_under_strict_markers_with_or_without_xdist(plugin):
    """``-p no:xdist --strict-markers`` used to be a collection error ('xdist_group' not found)."""
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "suites" / "test_load.py"), "--collect-only",
           "-q", "--strict-markers", "-p", "no:cacheprovider", *plugin.split()]  # fmt: skip
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "5 tests collected" in res.stdout
