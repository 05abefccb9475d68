"""The checklist reporter under faults: an interrupted run is reported ``interrupted``, its
unfinished tests are errors and its verdict is never GO (pytester and a real SIGINT)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_prodcheck.report.gate import check_report_dir
from pytest_prodcheck.reporter import interrupt_reason

# a passing linked test, then one whose fixture is being set up when the run is stopped, then
# one that never starts: without the interrupt handling this run's report said GO
SUITE = """
import os, time
import pytest

@pytest.mark.checklist("security.https-only")
def test_a_passes():
    pass

@pytest.fixture
def slow_load():
    {stop}
    yield

@pytest.mark.checklist("testing.smoke")
def test_b_load_smoke(slow_load):
    pass

@pytest.mark.checklist("testing.stress")
def test_c_never_started():
    pass
"""


def _report(path: Path) -> dict:
    return json.loads((path / "reports" / "checklist.json").read_text(encoding="utf-8"))


def _items(report: dict) -> dict[str, dict]:
    return {i["id"]: i for i in report["items"]}


@pytest.mark.parametrize(
    ("stop", "reason"),
    [
        ("raise KeyboardInterrupt", "KeyboardInterrupt (Ctrl-C or SIGINT)"),
        ("pytest.exit('operator stop')", "pytest.exit: operator stop"),
    ],
)
def test_an_interrupted_run_is_no_go_and_its_unfinished_tests_are_errors(
    pytester: pytest.Pytester, stop: str, reason: str
) -> None:
    pytester.makepyfile(test_suite=SUITE.format(stop=stop))
    result = pytester.runpytest_inprocess(
        "--prodcheck-report-dir", "reports", no_reraise_ctrlc=True
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    report = _report(pytester.path)
    assert report["verdict"] == "NO-GO"
    assert report["run"]["interrupted"] is True
    assert report["run"]["interrupted_reason"] == reason
    assert report["verdict_reasons"][0].startswith(f"run interrupted ({reason})")
    items = _items(report)
    assert items["security.https-only"]["status"] == "passed"  # what finished still counts
    assert items["testing.smoke"]["status"] == "error"  # interrupted in setup: not "not_run"
    assert items["testing.stress"]["status"] == "error"
    assert items["testing.stress"]["tests"][0]["message"] == "not run: the run was interrupted"
    md = (pytester.path / "reports" / "checklist.md").read_text(encoding="utf-8")
    assert md.splitlines()[0].startswith(f"# Production readiness: NO-GO — INTERRUPTED ({reason})")
    assert "INTERRUPTED" in (pytester.path / "reports" / "checklist.html").read_text()
    result.stdout.fnmatch_lines(["prodcheck: verdict NO-GO (run INTERRUPTED: *"])
    problem = check_report_dir(pytester.path / "reports")  # the `make smoke` gate fails on it
    assert problem is not None and problem.startswith("the run was interrupted")


def test_shouldstop_is_an_interruption(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_suite="""
import pytest

@pytest.mark.checklist("security.https-only")
def test_a(request):
    request.session.shouldstop = "the operator pulled the plug"

@pytest.mark.checklist("testing.smoke")
def test_b():
    pass
"""
    )
    result = pytester.runpytest("--prodcheck-report-dir", "reports")
    report = _report(pytester.path)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert (
        report["run"]["interrupted_reason"] == "session interrupted: the operator pulled the plug"
    )
    assert report["verdict"] == "NO-GO"
    assert _items(report)["testing.smoke"]["status"] == "error"


def test_a_maxfail_stop_is_not_an_interruption(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_suite="""
import pytest

@pytest.mark.checklist("security.https-only")
def test_a():
    assert False, "broken"

@pytest.mark.checklist("testing.smoke")
def test_b():
    pass
"""
    )
    result = pytester.runpytest("-x", "--prodcheck-report-dir", "reports")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = _report(pytester.path)
    assert report["run"]["interrupted"] is False and report["run"]["interrupted_reason"] is None
    assert report["verdict"] == "NO-GO"
    assert _items(report)["testing.smoke"]["status"] == "not_run"  # -x: simply not run


def test_an_uninterrupted_run_is_still_go(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE.format(stop="pass"))
    result = pytester.runpytest("--prodcheck-report-dir", "reports")
    assert result.ret == 0
    report = _report(pytester.path)
    assert report["verdict"] == "GO" and report["run"]["interrupted"] is False


def test_interrupt_reason() -> None:
    assert interrupt_reason(KeyboardInterrupt()) == "KeyboardInterrupt (Ctrl-C or SIGINT)"
    assert interrupt_reason(KeyboardInterrupt("stopping after 2 failures"), maxfail=2) is None
    assert interrupt_reason(KeyboardInterrupt("stopping after 2 failures")) == (
        "session interrupted: stopping after 2 failures"  # no -x given: someone else stopped it
    )


def _sigint_when_started(tmp_path: Path, started: Path, *pytest_args: str) -> tuple[int, str]:
    """Run ``pytest -q … test_suite.py`` in ``tmp_path``; SIGINT it once ``started`` exists."""
    env = {**os.environ, "PYTEST_ADDOPTS": "-p no:locust -p no:cacheprovider"}
    cmd = [sys.executable, "-m", "pytest", "-q", *pytest_args,
           "--prodcheck-report-dir", "reports", "test_suite.py"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, f"{started.name} never appeared"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out.decode(errors="replace")


def test_sigint_mid_run_in_a_real_process(tmp_path: Path) -> None:
    """The issue's drill: Ctrl-C (SIGINT) while a linked fixture is being set up."""
    started = tmp_path / "started"
    stop = f"open({str(started)!r}, 'w').close(); time.sleep(60)"
    (tmp_path / "test_suite.py").write_text(SUITE.format(stop=stop))
    code, out = _sigint_when_started(tmp_path, started)
    assert code == pytest.ExitCode.INTERRUPTED, out
    report = _report(tmp_path)
    assert report["verdict"] == "NO-GO"
    assert report["run"]["interrupted"] is True
    items = _items(report)
    assert items["testing.smoke"]["status"] == "error"
    assert items["testing.stress"]["status"] == "error"
    assert check_report_dir(tmp_path / "reports") is not None


XDIST_SUITE = """
import os, time
import pytest

@pytest.mark.checklist("security.https-only")
def test_a_passes():
    pass

@pytest.mark.checklist("testing.smoke")
def test_b_runs_when_the_run_is_stopped():
    open({started!r}, "w").close()
    time.sleep(60)

@pytest.mark.checklist("testing.stress")
@pytest.mark.parametrize("n", range(30))
def test_c_later(n):
    time.sleep(0.2)
"""


def test_sigint_under_xdist_counts_the_tests_that_never_started(tmp_path: Path) -> None:
    """The controller collects nothing under xdist: the workers' first reports tell it what they
    collected, so linked tests that never started are errors too, never ``not_run``."""
    started = tmp_path / "started"
    (tmp_path / "test_suite.py").write_text(XDIST_SUITE.format(started=str(started)))
    code, text = _sigint_when_started(tmp_path, started, "-n", "2", "--dist", "load")
    assert code == pytest.ExitCode.INTERRUPTED, text
    report = _report(tmp_path)
    assert report["verdict"] == "NO-GO" and report["run"]["interrupted"] is True
    items = _items(report)
    assert items["security.https-only"]["status"] == "passed", text
    assert items["testing.smoke"]["status"] == "error"
    stress = items["testing.stress"]
    assert stress["status"] == "error"
    never = [t for t in stress["tests"] if t["message"] == "not run: the run was interrupted"]
    assert never, stress["tests"]  # the ones no worker had started
    assert len(stress["tests"]) == 30  # every collected test is accounted for
