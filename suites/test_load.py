"""Load tests: one per profile of the guide, Locust in a subprocess, thresholds as evidence.

    pytest -m smoke                       # 10 users, 2 minutes (+ the other smoke checks)
    pytest -m "load and baseline" --prodcheck-load-duration 60
    pytest -m stress --prodcheck-load-workers 2

Load goes to the site through its web server (``Endpoints.site_url``, honouring the resolve map:
connect to the address, send the name as Host/SNI, verify with the CA bundle). Load tests never
overlap: a machine-wide lock (and ``xdist_group`` when pytest-xdist is installed) serialises them.
Per-run reports: ``<report_dir>/load/<profile>-<UTC time>/`` (Locust HTML/CSV/JSON, summary.json).
"""

from __future__ import annotations

import contextlib
import importlib.util
from typing import Any

import pytest

from pytest_prodcheck.load.api import execute, plan_load, target_from_endpoints
from pytest_prodcheck.load.runner import Progress, exclusive_load

pytestmark = [pytest.mark.load]
if importlib.util.find_spec("xdist") is not None:
    pytestmark.append(pytest.mark.xdist_group("prodcheck-load"))


def _run_profile(profile: str, request: pytest.FixtureRequest, stack: Any, settings: Any,
                 evidence: Any) -> None:  # fmt: skip
    site = stack.require("site_url", key="url")
    host, header = target_from_endpoints(site, tuple(stack.resolve))
    plan = plan_load(
        settings,
        profile,
        host=host,
        host_header=header,
        ca_bundle=stack.ca_bundle,
        report_dir=settings.report_dir,
    )
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capman = request.config.pluginmanager.get_plugin("capturemanager")
    total = plan.spec.run_length_s()

    def progress(p: Progress) -> None:
        """Live line on the real terminal (output capture bypassed) for runs over 5 s."""
        if terminal is None or total <= 5:
            return
        quiet = capman.global_and_fixture_disabled() if capman else contextlib.nullcontext()
        with quiet:
            terminal.write_line(p.render(f"load {plan.name}", total))

    with exclusive_load():
        outcome = execute(plan, progress=progress)
    html = str(outcome.run.files.get("html", outcome.summary_path))
    for check in outcome.checks():
        passed = None if check.status == "error" else check.ok
        evidence.record(check.id, check.observed, check.expected, passed, source=html,
                        message=check.message)  # fmt: skip
    evidence.record("load.report", str(outcome.summary_path), "", None, source=html)
    lines = "\n".join(outcome.lines())
    assert outcome.valid, f"load run invalid, not judged:\n{lines}"
    assert outcome.ok, f"load thresholds failed:\n{lines}"


@pytest.mark.smoke
@pytest.mark.checklist("testing.smoke")
def test_load_smoke(request, prodcheck_stack, prodcheck_settings, prodcheck_evidence):
    """Smoke: 10 users, 2 minutes; the guide's thresholds."""
    _run_profile("smoke", request, prodcheck_stack, prodcheck_settings, prodcheck_evidence)


@pytest.mark.baseline
@pytest.mark.checklist("testing.baseline-load", "predeploy.load-baseline")
def test_load_baseline(request, prodcheck_stack, prodcheck_settings, prodcheck_evidence):
    """Baseline: 50 users, 10 minutes; its summary.json is the baseline of this release."""
    _run_profile("baseline", request, prodcheck_stack, prodcheck_settings, prodcheck_evidence)


@pytest.mark.stress
@pytest.mark.checklist("testing.stress")
def test_load_stress(request, prodcheck_stack, prodcheck_settings, prodcheck_evidence):
    """Stress: 200 users, 15 minutes."""
    _run_profile("stress", request, prodcheck_stack, prodcheck_settings, prodcheck_evidence)


@pytest.mark.spike
@pytest.mark.checklist("testing.stress")
def test_load_spike(request, prodcheck_stack, prodcheck_settings, prodcheck_evidence):
    """Spike: 500 users arriving within 5 s, held for 5 minutes."""
    _run_profile("spike", request, prodcheck_stack, prodcheck_settings, prodcheck_evidence)


@pytest.mark.endurance
def test_load_endurance(request, prodcheck_stack, prodcheck_settings, prodcheck_evidence):
    """Endurance: 100 users for 60 minutes (leaks, pool exhaustion, slow degradation)."""
    _run_profile("endurance", request, prodcheck_stack, prodcheck_settings, prodcheck_evidence)
