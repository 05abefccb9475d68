"""Real Locust runs (subprocess) against a real local HTTP target: each failure mode shown.

Runs are 2-4 s; the whole file takes ~40 s. Nothing here imports Locust into pytest.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
from _load_target import Target

from pytest_prodcheck.config import load_settings
from pytest_prodcheck.core.errors import TargetUnreachable, ToolError
from pytest_prodcheck.load.api import execute, plan_load
from pytest_prodcheck.load.runner import Progress, RunSpec, run_locust
from pytest_prodcheck.load.thresholds import Thresholds

FAST_THINK = {"wait_min": 0.05, "wait_max": 0.2}


def _by_id(verdicts):
    return {v.threshold.id: v for v in verdicts}


def _procs_mentioning(text: str) -> list[int]:
    """PIDs whose command line or environment mentions ``text`` (our run's unique out dir)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            blob = (
                Path(f"/proc/{pid}/cmdline").read_bytes()
                + Path(f"/proc/{pid}/environ").read_bytes()
            )
        except OSError:
            continue
        if text.encode() in blob:
            found.append(int(pid))
    return found


def _plan(tmp: Path, url: str, profile: str = "smoke", duration: float = 3, **kw):
    # fast think time; a throughput floor this short, shared-CPU run always reaches
    overrides = {"load.wait_min": 0.05, "load.wait_max": 0.2, "load.min_rps": 20}
    settings = load_settings(None, overrides, env={})
    return plan_load(settings, profile, host=url, duration_s=duration, out_dir=tmp, **kw)


@pytest.fixture(scope="module")
def good_target():
    with Target("--delay", "/api/ai/=150") as t:
        yield t


@pytest.fixture(scope="module")
def good_outcome(good_target, tmp_path_factory):
    out = tmp_path_factory.mktemp("good")
    lines: list[Progress] = []
    plan = _plan(out, good_target.url, duration=4, progress_every_s=1)
    outcome = execute(plan, progress=lines.append)
    return outcome, lines


def test_good_target_passes_every_threshold(good_outcome):
    outcome, _ = good_outcome
    texts = [v.render() for v in outcome.verdicts]
    assert outcome.valid, outcome.run.health.describe()
    assert outcome.ok, texts
    assert all(t.endswith("✓") for t in texts)
    names = {e.name for e in outcome.run.stats.endpoints}
    assert {"/api/products/[id]", "/api/ai/recommendations", "/api/search", "/"} <= names
    assert not any(n.startswith("/api/products/") and n[-1].isdigit() for n in names)


def test_reports_and_progress(good_outcome):
    outcome, progress = good_outcome
    files = outcome.run.files
    for key in ("html", "json", "csv", "log", "progress"):
        assert files[key].is_file(), key
    assert "<html" in files["html"].read_text()[:2000].lower()
    summary = outcome.summary_path.read_text()
    assert '"verdicts"' in summary and '"p95_ms"' in summary
    assert len(progress) >= 2 and progress[-1].users == 10 and progress[-1].requests > 0
    assert "users 10" in progress[-1].render("load smoke", 4)


def test_slow_endpoint_fails_p95(tmp_path):
    with Target("--delay", "/api/products=1100") as t:
        outcome = execute(_plan(tmp_path, t.url))
    v = _by_id(outcome.verdicts)
    assert outcome.valid and not outcome.ok
    assert not v["load.p95"].ok and v["load.p95"].observed >= 1100
    assert v["load.p95"].render().endswith("✗")
    assert v["load.error_rate"].ok


def test_failing_endpoint_fails_error_rate(tmp_path):
    with Target("--fail", "/api/search=1.0") as t:
        outcome = execute(_plan(tmp_path, t.url))
    v = _by_id(outcome.verdicts)
    assert outcome.valid and not outcome.ok
    assert not v["load.error_rate"].ok and v["load.error_rate"].observed > 0.01
    assert v["load.p95"].ok
    assert any("500" in str(e.get("error")) for e in outcome.run.errors)
    assert outcome.run.returncode == 0  # --exit-code-on-error 0: thresholds decide


IDLE = """
from locust import User, task, constant
class Idle(User):
    wait_time = constant(0.2)
    @task
    def nothing(self):
        pass
"""

BURN = """
import time
from locust import FastHttpUser, task, constant
class Burner(FastHttpUser):
    wait_time = constant(0)
    @task
    def burn(self):
        end = time.perf_counter() + 0.25
        while time.perf_counter() < end:
            pass
        self.client.get("/fast")
"""


def test_empty_run_fails_every_threshold(tmp_path, good_target):
    lf = tmp_path / "idle.py"
    lf.write_text(IDLE)
    spec = RunSpec(host=good_target.url, out_dir=tmp_path / "o", users=2, spawn_rate=2,
                   run_time_s=2, locustfiles=(lf,))  # fmt: skip
    run = run_locust(spec)
    verdicts = Thresholds.build(users=2, min_rps=None).evaluate(run.stats)
    assert run.stats.total().count == 0
    assert [v.ok for v in verdicts] == [False] * len(verdicts)
    assert all(v.render().endswith("no samples ✗") for v in verdicts)


def test_saturated_generator_makes_the_run_invalid(tmp_path, good_target):
    lf = tmp_path / "burn.py"
    lf.write_text(BURN)
    plan = _plan(tmp_path / "o", good_target.url, duration=3, users=2, locustfiles=(lf,))
    outcome = execute(plan)
    health = outcome.run.health
    assert health.saturated, health.describe()
    (proc,) = health.processes
    assert proc.loop_lag_p95_ms is not None and proc.loop_lag_p95_ms >= 100
    assert "load generator saturated" in health.describe()
    assert not outcome.valid and not outcome.ok  # not blamed on the target
    gen = outcome.checks()[0]
    assert gen.id == "load.generator" and gen.status == "error"
    assert "not the target" in gen.message or "not the target" in gen.observed
    assert any("RUN INVALID" in line for line in outcome.lines())


def test_healthy_generator_is_not_flagged(good_outcome):
    outcome, _ = good_outcome
    (proc,) = outcome.run.health.processes
    assert not outcome.run.health.saturated
    assert proc.cpu_ratio < 0.9 and proc.window_wall_s and proc.window_wall_s > 3
    assert outcome.checks()[0].status == "pass"


def test_timeout_kills_the_whole_process_group(tmp_path, good_target):
    out = tmp_path / "hung"
    spec = RunSpec(host=good_target.url, out_dir=out, users=2, spawn_rate=2, run_time_s=60,
                   timeout_s=2.5, workers=1, locust_config=FAST_THINK)  # fmt: skip
    started = time.monotonic()
    with pytest.raises(ToolError, match="exceeded its time bound of 2s and was killed"):
        run_locust(spec)
    assert time.monotonic() - started < 15
    assert _procs_mentioning(str(out)) == []


STRAY = """
import subprocess
from locust import User, task, constant
# a child in Locust's process group that ignores SIGTERM (a locustfile helper gone wrong)
subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 300"])
class Quiet(User):
    wait_time = constant(0.2)
    @task
    def nothing(self):
        pass
"""

HUNG = (
    STRAY
    + """
    def on_start(self):
        while True:  # blocks the gevent loop: Locust can no longer even handle SIGTERM
            pass
"""
)


@pytest.mark.parametrize("kind", ["hung", "stray"])
def test_nothing_outlives_a_run(tmp_path, good_target, kind):
    """A hung Locust is killed and reported; a stray child ignoring SIGTERM is killed as well."""
    lf = tmp_path / f"{kind}.py"
    lf.write_text(HUNG if kind == "hung" else STRAY)
    out = tmp_path / "o"
    spec = RunSpec(host=good_target.url, out_dir=out, users=1, spawn_rate=1, run_time_s=2,
                   timeout_s=4 if kind == "hung" else None, locustfiles=(lf,))  # fmt: skip
    started = time.monotonic()
    if kind == "hung":
        with pytest.raises(ToolError, match="exceeded its time bound of 4s and was killed"):
            run_locust(spec)
    else:
        assert run_locust(spec).returncode == 0
    assert time.monotonic() - started < 20
    assert _procs_mentioning(str(out)) == []


def test_workers_merge_into_the_master(tmp_path, good_target):
    spec = RunSpec(host=good_target.url, out_dir=tmp_path / "dist", users=6, spawn_rate=6,
                   run_time_s=3, workers=2, raw_timings=True, locust_config=FAST_THINK)  # fmt: skip
    run = run_locust(spec)
    roles = sorted(p.role for p in run.health.processes)
    assert roles == ["master", "worker", "worker"]
    raw = run.raw_timings()
    assert run.stats.total().count == len(raw) > 50  # workers flushed everything
    assert run.stats.total().percentile(0.95) == int(sorted(ms for *_, ms in raw)[
        -(-len(raw) * 95 // 100) - 1])  # fmt: skip
    assert _procs_mentioning(str(tmp_path / "dist")) == []


def test_shape_ends_the_run_itself(tmp_path, good_target):
    lines: list[Progress] = []
    plan = _plan(tmp_path, good_target.url, profile="spike", duration=6, shape="spike",
                 progress_every_s=1)  # fmt: skip
    started = time.monotonic()
    outcome = execute(plan, progress=lines.append)
    wall = time.monotonic() - started
    assert 5.5 < wall < 6 + 5 + 4  # the shape's 6 s (+ stop timeout, start-up), not -t
    assert max(p.users for p in lines) == 200
    assert outcome.run.stats.total().count > 100


def test_unreachable_host_is_refused_before_starting(tmp_path):
    spec = RunSpec(host="http://127.0.0.1:9", out_dir=tmp_path / "x", users=1, spawn_rate=1,
                   run_time_s=1)  # fmt: skip
    with pytest.raises(TargetUnreachable, match="unreachable"):
        run_locust(spec)
    assert not (tmp_path / "x").exists()


def test_broken_locustfile_is_a_tool_error(tmp_path, good_target):
    lf = tmp_path / "broken.py"
    lf.write_text("import nonexistent_module_xyz\n")
    spec = RunSpec(host=good_target.url, out_dir=tmp_path / "o", users=1, spawn_rate=1,
                   run_time_s=1, locustfiles=(lf,))  # fmt: skip
    with pytest.raises(ToolError, match="locust exited with code") as exc:
        run_locust(spec)
    assert "nonexistent_module_xyz" in str(exc.value)


def test_locust_is_never_imported_into_pytest():
    """This session, and a fresh interpreter importing every pytest-side load module."""
    import subprocess

    assert "locust" not in sys.modules and "gevent" not in sys.modules
    modules = ["pytest_prodcheck.plugin", "pytest_prodcheck.commands.load"] + [
        f"pytest_prodcheck.load.{m}"
        for m in ("api", "journey", "profiles", "report", "runner", "shapes", "stats", "thresholds")
    ]
    code = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "[]"


def test_locustfile_runs_standalone_with_configured_paths(tmp_path, good_target):
    """Plain ``locust -f locustfile.py,shape…`` works; paths come from PRODCHECK_LOAD_CONFIG."""
    import json
    import subprocess

    from pytest_prodcheck.load.runner import LOCUSTFILE

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"paths": {"search": "/fast"}, **FAST_THINK}))
    env = {**os.environ, "PRODCHECK_LOAD_CONFIG": str(cfg)}
    res = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "8",
         "-r", "8", "-t", "3s", "--host", good_target.url, "--json-file", str(tmp_path / "out"),
         "--loglevel", "WARNING"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    names = {e["name"] for e in json.loads((tmp_path / "out.json").read_text())}
    assert "/fast" in names and "/api/search" not in names


def test_exclusive_load_waits_for_the_holder_and_says_so(tmp_path):
    import threading

    from pytest_prodcheck.load.runner import exclusive_load

    lock = tmp_path / "load.lock"
    said: list[str] = []
    order: list[str] = []
    with exclusive_load(lock, on_wait=said.append):
        assert said == []  # free: no message
        t = threading.Thread(target=lambda: _take(lock, said, order))
        t.start()
        time.sleep(0.3)
        order.append("holder done")
    t.join(5)
    assert order == ["holder done", "second run"]
    assert len(said) == 1 and "waiting for another load run" in said[0] and str(lock) in said[0]


def _take(lock: Path, said: list[str], order: list[str]) -> None:
    from pytest_prodcheck.load.runner import exclusive_load

    with exclusive_load(lock, on_wait=said.append):
        order.append("second run")
