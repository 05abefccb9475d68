"""Load tests: one per profile of the guide, Locust in a subprocess, thresholds as evidence.

    pytest -m smoke                       # 10 users, 2 minutes (+ the other smoke checks)
    pytest -m "load and baseline" --prodcheck-load-duration 60
    pytest -m stress --prodcheck-load-workers 2

Load goes to the site through its web server (``Endpoints.site_url``, honouring the resolve map:
connect to the address, send the name as Host/SNI, verify with the CA bundle). Load tests never
overlap: a machine-wide lock (and ``xdist_group`` under ``--dist loadgroup``) serialises them.
Per-run reports: ``<report_dir>/load/<profile>-<UTC time>/`` (Locust HTML/CSV/JSON, summary.json).
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import TYPE_CHECKING

import pytest

from pytest_prodcheck.config import Settings
from pytest_prodcheck.core.errors import ProdcheckError
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.evidence import EvidenceRecorder
from pytest_prodcheck.load.api import (
    LoadOutcome,
    accounts_from_endpoints,
    execute,
    plan_load,
    target_from_endpoints,
)
from pytest_prodcheck.load.progress import ProgressView
from pytest_prodcheck.load.runner import Progress, exclusive_load
from pytest_prodcheck.release.service import baseline_check
from pytest_prodcheck.stack.containers import container_monitor
from pytest_prodcheck.stack.endpoints import Endpoints

if TYPE_CHECKING:
    from suites.conftest import Judge

# the prodcheck plugin registers ``xdist_group`` too, so the mark is valid with -p no:xdist
pytestmark = [pytest.mark.load, pytest.mark.xdist_group("prodcheck-load")]


@pytest.fixture
def load_outcome(
    request: pytest.FixtureRequest, prodcheck_stack: Endpoints, prodcheck_settings: Settings,
    prodcheck_evidence: EvidenceRecorder,
) -> LoadOutcome:  # fmt: skip
    """Runs the requesting test's profile (``test_load_<profile>``) during setup.

    So a run that could not judge the site is a test ERROR, never a failure blamed on it: Locust
    crashed, hung and was killed, the target is unreachable, the configuration is wrong, or the
    load generator was saturated (run invalid). Threshold verdicts are judged by the test itself.
    """
    profile = request.node.name.removeprefix("test_load_")
    site = prodcheck_stack.require("site_url", key="url")
    host, header = target_from_endpoints(site, tuple(prodcheck_stack.resolve))
    plan = plan_load(
        prodcheck_settings,
        profile,
        host=host,
        host_header=header,
        ca_bundle=prodcheck_stack.ca_bundle,
        report_dir=prodcheck_settings.report_dir,
        accounts=accounts_from_endpoints(prodcheck_stack.extras),
        metrics_url=prodcheck_stack.metrics_url,
        pgbouncer_dsn=prodcheck_stack.extras.get("pgbouncer_stats_dsn"),
    )
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capman = request.config.pluginmanager.get_plugin("capturemanager")
    total = plan.spec.run_length_s()

    def say(line: str) -> None:
        """A line on the real terminal (output capture bypassed)."""
        if terminal is None:
            return
        quiet = capman.global_and_fixture_disabled() if capman else contextlib.nullcontext()
        with quiet:
            terminal.write_line(line)

    def rewrite(line: str) -> None:
        if terminal is None:
            return
        quiet = capman.global_and_fixture_disabled() if capman else contextlib.nullcontext()
        with quiet:
            terminal.rewrite(line, erase=True)

    # a TTY: one line updated in place; CI: at most one line per 10 s (runs > 5 s only)
    tty = bool(terminal is not None and getattr(terminal, "isatty", False))
    view = ProgressView(f"load {plan.name}", total, tty=tty, out=say, rewrite=rewrite)

    def progress(p: Progress) -> None:
        if total > 5:
            view(p)

    try:
        with (
            exclusive_load(on_wait=lambda why: say(f"load {plan.name}: {why}")),
            container_monitor(prodcheck_stack, plan.spec.out_dir) as monitor,  # docker stats
        ):
            outcome = execute(plan, progress=progress)
    except ProdcheckError as exc:
        view.close()
        prodcheck_evidence.check(CheckResult.errored("load.run", str(exc), "a completed run"))
        raise
    view.close()
    html = str(outcome.run.files.get("html", outcome.summary_path))
    for check in outcome.checks():
        if check.status == "error":  # the generator's verdict on the run itself
            prodcheck_evidence.check(check)
        else:
            prodcheck_evidence.record(check.id, check.observed, check.expected, check.ok,
                                      source=html, message=check.message)  # fmt: skip
    prodcheck_evidence.record("load.report", str(outcome.summary_path), "", None, source=html)
    for name, text, chart in outcome.chart_evidence():  # stress steps, endurance drift
        prodcheck_evidence.record(name, text, "", None, source=str(chart))
    if monitor.html is not None:  # container CPU/memory next to Locust's latency charts
        prodcheck_evidence.record("load.container-stats", monitor.summary, "", None,
                                  source=str(monitor.html))  # fmt: skip
    if not outcome.valid:
        lines = "\n".join(outcome.lines())
        pytest.fail(f"load run invalid, not judged:\n{lines}", pytrace=False)
    return outcome


@pytest.fixture
def load_baseline(
    load_outcome: LoadOutcome, prodcheck_settings: Settings, prodcheck_evidence: EvidenceRecorder
) -> CheckResult | None:
    """The run against the target's baseline of its profile (``load.baseline`` evidence).

    Only with the history on (``[history] enabled``, the default): the baseline is the run
    recorded with ``prodcheck load PROFILE --record``, else the newest earlier passing run of the
    profile with the same users and shape. A regression beyond ``[history]
    baseline_p95_increase_pct`` (and ``baseline_p95_min_increase_ms``, the noise floor) /
    ``baseline_rps_decrease_pct`` fails the test; no baseline (or a history that cannot be
    read) is ``n/a`` with the reason, never a failure of the site.
    """
    if not (prodcheck_settings.history.enabled and load_outcome.valid):
        return None
    try:
        summary = json.loads(load_outcome.summary_path.read_text())
        check = baseline_check(prodcheck_settings, summary, os.environ)
    except (OSError, ValueError, ProdcheckError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        check = CheckResult.not_applicable(
            "load.baseline", f"not compared: {why}", "a readable history"
        )
    return prodcheck_evidence.check(check)


def _judge(outcome: LoadOutcome, judge: Judge, baseline: CheckResult | None = None) -> None:
    """The run's verdicts are recorded by ``load_outcome``; fail with the threshold table (and
    the comparison with the baseline when it regressed)."""
    __tracebackhide__ = True
    lines = outcome.lines()
    regressed = baseline is not None and not baseline.ok
    if baseline is not None and regressed:
        lines = [*lines, f"✗ vs baseline: {baseline.observed}"]
    headline = (
        "load thresholds failed:" if not outcome.ok else "load regressed against its baseline:"
    )
    judge.summary(outcome.ok and not regressed, headline, lines)


@pytest.mark.smoke
@pytest.mark.checklist("testing.smoke")
def test_load_smoke(
    load_outcome: LoadOutcome, load_baseline: CheckResult | None, judge: Judge
) -> None:
    """Smoke: 10 users, 2 minutes; the guide's thresholds."""
    _judge(load_outcome, judge, load_baseline)


@pytest.mark.baseline
@pytest.mark.checklist("testing.baseline-load", "predeploy.load-baseline")
def test_load_baseline(
    load_outcome: LoadOutcome, load_baseline: CheckResult | None, judge: Judge
) -> None:
    """Baseline: 50 users, 10 minutes; its summary.json is the baseline of this release."""
    _judge(load_outcome, judge, load_baseline)


@pytest.mark.stress
@pytest.mark.checklist("testing.stress")
def test_load_stress(
    load_outcome: LoadOutcome, load_baseline: CheckResult | None, judge: Judge
) -> None:
    """Stress: users stepped up to 200 over 15 minutes; passes when the knee is >= 200 users."""
    _judge(load_outcome, judge, load_baseline)


@pytest.mark.spike
@pytest.mark.checklist("testing.stress")
def test_load_spike(
    load_outcome: LoadOutcome, load_baseline: CheckResult | None, judge: Judge
) -> None:
    """Spike: 500 users arriving within 5 s, held for 5 minutes."""
    _judge(load_outcome, judge, load_baseline)


@pytest.mark.endurance
def test_load_endurance(
    load_outcome: LoadOutcome, load_baseline: CheckResult | None, judge: Judge
) -> None:
    """Endurance: 100 users for 60 minutes; also fails on drift from first to last tenth."""
    _judge(load_outcome, judge, load_baseline)
