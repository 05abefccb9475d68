"""`make smoke` can never pass vacuously: pytest exit 5 fails, and so does a run that exits 0 but
decided no checklist item (the report gate). Runs the real Makefile against the real suites/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_prodcheck.report.gate import check_report_dir, main, vacuity

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parent.parent


def report(verdict: str = "GO", tests_run: int = 3, decided: int = 2) -> dict[str, object]:
    return {
        "verdict": verdict,
        "verdict_reasons": ["no checklist item was decided by this run (nothing verified)"],
        "run": {"tests_run": tests_run},
        "coverage": {"decided": decided},
    }


def test_vacuity_rules() -> None:
    assert vacuity(report()) is None
    assert vacuity(report("GO-WITH-WAIVERS")) is None
    assert "executed no test" in str(vacuity(report(tests_run=0)))
    assert "no checklist item was decided" in str(vacuity(report("NO-GO", decided=0)))
    assert "verdict NO-GO" in str(vacuity(report("NO-GO", decided=4)))


def test_missing_or_corrupt_report_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "was not written" in str(check_report_dir(tmp_path))
    (tmp_path / "checklist.json").write_text("{oops", encoding="utf-8")
    assert "not a readable report" in str(check_report_dir(tmp_path))
    assert main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("prodcheck: FAILED: ") and err.count("\n") == 1
    (tmp_path / "checklist.json").write_text(json.dumps(report()), encoding="utf-8")
    assert main([str(tmp_path)]) == 0
    assert main([]) == 2


# --- the Makefile --------------------------------------------------------------------------------

SKIPS = """
import pytest

@pytest.mark.smoke
@pytest.mark.checklist("testing.smoke")
def test_gate_probe_skips():
    pytest.skip("no endpoint")

@pytest.mark.smoke
@pytest.mark.checklist("testing.smoke")
def test_gate_probe_passes():
    pass
"""


@dataclass
class MakeSmoke:
    """``make smoke`` in the repository, reports into a temp dir, extra tests from ``probe``."""

    probe: Path
    reports: Path

    def __call__(self, pytest_args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MAKE"))}
        env["PYTEST_ADDOPTS"] = "-p no:cacheprovider"
        return subprocess.run(
            [
                "make",
                "--no-print-directory",
                "smoke",
                f"VENV={VENV}",
                f"REPORT_DIR={self.reports}",
                f"PYTEST_ARGS={pytest_args}",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


@pytest.fixture
def make_smoke(tmp_path: Path) -> MakeSmoke:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "test_gate_probe.py").write_text(SKIPS, encoding="utf-8")
    return MakeSmoke(tmp_path / "probe", tmp_path / "reports")


def test_make_smoke_fails_when_no_test_is_selected(make_smoke: MakeSmoke) -> None:
    proc = make_smoke("-k no_test_is_called_like_this")
    assert proc.returncode != 0
    assert "no test was selected by -m smoke" in proc.stderr


def test_make_smoke_fails_when_every_test_skipped(make_smoke: MakeSmoke) -> None:
    proc = make_smoke(f"{make_smoke.probe} -k test_gate_probe_skips")
    assert proc.returncode != 0, proc.stdout
    assert "1 skipped" in proc.stdout
    assert "no checklist item was decided" in proc.stderr
    data = json.loads((make_smoke.reports / "checklist.json").read_text(encoding="utf-8"))
    assert data["verdict"] == "NO-GO"


def test_make_smoke_passes_when_something_was_checked(make_smoke: MakeSmoke) -> None:
    proc = make_smoke(f"{make_smoke.probe} -k test_gate_probe")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((make_smoke.reports / "checklist.json").read_text(encoding="utf-8"))
    assert data["verdict"] == "GO" and data["coverage"]["decided"] == 1
