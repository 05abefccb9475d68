"""The checklist reporter (controller only): linked outcomes + evidence in, the report out.

    reporter = ChecklistReporter(config, settings, waivers, attestations, forced=False)
    config.pluginmanager.register(reporter, "prodcheck-reporter")   # what plugin.py does

Each test's checklist ids and evidence travel in its reports' ``user_properties`` under
:data:`PROP` (so pytest-xdist workers can hand them to the controller); at session end the
reporter decides every item and writes ``checklist.{json,md,html}`` into ``[report_dir]``.

A run that stops early (Ctrl-C, ``pytest.exit``, a plugin setting ``session.shouldstop``) is
reported ``interrupted`` and can never be GO: its tests that never finished (or never started)
count as errors. ``-x`` / ``--maxfail`` is not an interruption: the failure decides the verdict.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pytest_prodcheck.checklist import Attestation, TestRecord, Waiver
from pytest_prodcheck.config import Settings
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.secrets import mask_text
from pytest_prodcheck.evidence import Evidence

SITE_URL_KEY = pytest.StashKey[str]()  # the site URL the stack of this process serves
SECRETS_KEY = pytest.StashKey[list[str]]()  # settings' secrets + the stack's (grows at start)
PROP = "prodcheck"  # the user_properties name carrying a test's ids and evidence
#: how a fixture says the target does not answer at all (the report then says so, once)
UNREACHABLE_PREFIX = "prodcheck: target unreachable: "


def checklist_ids(item: pytest.Item) -> tuple[str, ...]:
    """The checklist ids linked to ``item`` (function, class and module markers), in order."""
    ids: list[str] = []
    for mark in item.iter_markers("checklist"):
        for arg in mark.args:
            if isinstance(arg, str) and arg not in ids:
                ids.append(arg)
    return tuple(ids)


@dataclass
class _TestState:
    ids: tuple[str, ...] = ()
    setup: str = ""
    call: str = ""
    teardown: str = ""
    duration: float = 0.0
    message: str = ""
    evidence: list[Evidence] = field(default_factory=list)
    unreachable: bool = False  # failed because the target did not answer: an error, not a finding

    def outcome(self) -> str:
        if self.unreachable:
            return "error"
        if self.call == "failed":
            return "failed"
        if "failed" in (self.setup, self.teardown):
            return "error"
        if "skipped" in (self.setup, self.call):
            return "skipped"
        if self.call != "passed":  # interrupted between setup and call: never a pass
            return "error"
        return "passed"


_MAXFAIL_STOP = re.compile(r"^stopping after \d+ failures?$")  # pytest and xdist, for -x


def interrupt_reason(exc: BaseException, maxfail: int = 0) -> str | None:
    """Why a run that raised ``exc`` out of its main loop was interrupted; None for a ``-x`` stop.

    >>> interrupt_reason(KeyboardInterrupt())
    'KeyboardInterrupt (Ctrl-C or SIGINT)'
    >>> interrupt_reason(KeyboardInterrupt("stopping after 1 failures"), maxfail=1) is None
    True
    """
    text = " ".join(str(getattr(exc, "msg", None) or exc).split())
    if maxfail and _MAXFAIL_STOP.match(text):
        return None  # xdist stops a -x run by raising its own KeyboardInterrupt subclass
    if isinstance(exc, KeyboardInterrupt):
        if type(exc) is KeyboardInterrupt and not text:
            return "KeyboardInterrupt (Ctrl-C or SIGINT)"
        return f"session interrupted: {text or type(exc).__name__}"
    return f"pytest.exit: {text}" if text else "pytest.exit"


def _short_message(rep: pytest.TestReport) -> str:
    longrepr = rep.longrepr
    if rep.skipped and isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
        text = text.removeprefix("Skipped: ")
    elif hasattr(rep, "wasxfail"):
        text = f"xfail: {rep.wasxfail}"
    else:
        crash = getattr(longrepr, "reprcrash", None)
        text = getattr(crash, "message", None) or (str(longrepr).strip().splitlines() or [""])[-1]
    text = " ".join(str(text).split())
    return text if len(text) <= 300 else text[:297] + "..."


class ChecklistReporter:
    """Collects linked test outcomes and evidence; writes the report at session end."""

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        waivers: list[Waiver],
        attestations: list[Attestation],
        forced: bool,
    ) -> None:
        self.config = config
        self.settings = settings
        self.waivers = waivers
        self.attestations = attestations
        self.forced = forced
        self.started = datetime.now(UTC)
        self.tests: dict[str, _TestState] = {}
        self.site_urls: dict[str, None] = {}  # ordered set: one per xdist worker's stack
        self.secrets = config.stash[SECRETS_KEY]  # same list the stack fixture extends
        self.linked_collected = False
        self.written: list[Path] = []
        self.summary = ""
        self.error = ""
        self.history_lines: list[str] = []
        self.history_error = ""
        self.interrupted: str | None = None  # why the run stopped early
        self._stopped = False  # pytest_keyboard_interrupt was called (an interrupt or a -x stop)
        self.collected: dict[str, tuple[str, ...]] = {}  # linked nodeid -> ids, after deselection

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        if checklist_ids(item):
            self.linked_collected = True

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:  # empty on an xdist controller: its workers collect
            ids = checklist_ids(item)
            if ids:
                self.collected[item.nodeid] = ids

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self._stopped = True
        reason = interrupt_reason(excinfo.value, int(self.config.option.maxfail or 0))
        if reason is not None:
            self.interrupted = mask_text(reason, extra=self.secrets)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.tests.setdefault(report.nodeid, _TestState())
        for name, value in report.user_properties:
            if name != PROP or not isinstance(value, str):
                continue
            try:
                data: dict[str, Any] = json.loads(value)
            except ValueError:
                continue  # someone else's "prodcheck" property
            if not isinstance(data, dict):
                continue
            for nodeid, ids in dict(data.get("collected") or {}).items():  # an xdist worker's
                self.collected.setdefault(str(nodeid), tuple(str(i) for i in ids))
            if "checklist" not in data:
                continue
            state.ids = tuple(data.get("checklist", state.ids))
            state.evidence.extend(Evidence.from_dict(e) for e in data.get("evidence", []))
            if data.get("site_url"):
                self.site_urls[str(data["site_url"])] = None
        outcome = report.outcome
        if report.when == "call" and hasattr(report, "wasxfail"):
            outcome = "skipped" if report.skipped else "passed"
        # xdist reports a crashed worker's test with when="???": count it as the call
        phase = report.when if report.when in ("setup", "teardown") else "call"
        setattr(state, phase, outcome)
        state.duration += report.duration
        if outcome in ("failed", "skipped") and not state.message:
            state.message = mask_text(_short_message(report), extra=self.secrets)
        if outcome == "failed" and UNREACHABLE_PREFIX in state.message:
            state.unreachable = True

    def _build(self, finished: datetime) -> Any:
        from pytest_prodcheck.report import RunMeta, build_report

        tests_by_item: dict[str, list[TestRecord]] = {}
        evidence_by_item: dict[str, list[Evidence]] = {}
        for nodeid, state in self.tests.items():
            message = state.message
            if not message and state.setup == "passed" and not state.call:
                message = "interrupted: the test did not run to completion"
            record = TestRecord(nodeid, state.outcome(), state.duration, message)  # type: ignore[arg-type]
            for item_id in state.ids:
                tests_by_item.setdefault(item_id, []).append(record)
                evidence_by_item.setdefault(item_id, []).extend(state.evidence)
        if self.interrupted:  # selected but never finished setup: an error, never "not run"
            for nodeid, ids in self.collected.items():
                if nodeid in self.tests:
                    continue
                record = TestRecord(nodeid, "error", 0.0, "not run: the run was interrupted")
                for item_id in ids:
                    tests_by_item.setdefault(item_id, []).append(record)
        secrets = self.secrets

        def mask(text: str | None) -> str | None:
            return mask_text(text, extra=secrets) if text else text

        unreachable = next(
            (
                s.message.split(UNREACHABLE_PREFIX, 1)[1]
                for s in self.tests.values()
                if UNREACHABLE_PREFIX in s.message
            ),
            None,
        )
        args = [str(a) for a in self.config.invocation_params.args]
        own_site = self.config.stash.get(SITE_URL_KEY, None)  # no xdist: the stack ran here
        if own_site:
            self.site_urls.setdefault(own_site, None)
        target_url = self.settings.url or ", ".join(self.site_urls) or None
        meta = RunMeta(
            target=self.settings.target,
            target_url=mask(target_url),
            started_utc=self.started,
            finished_utc=finished,
            command_line=mask_text(shlex.join(["pytest", *args]), extra=secrets),
            marker_expression=self.config.option.markexpr or "",
            release=mask(self.settings.release),
            commit=mask(self.settings.commit),
            tests_run=len(self.tests),
            workers=int(getattr(self.config.option, "numprocesses", 0) or 0),
            interrupted=self.interrupted,
            unreachable=unreachable,
        )
        return build_report(
            meta,
            tests_by_item,
            evidence_by_item,
            self.waivers,
            self.attestations,
            self.settings.checklist.attestation_max_age_days,
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus == pytest.ExitCode.INTERRUPTED and not self._stopped:
            self.interrupted = "the session was interrupted"  # the hook did not tell us why
        linked = self.linked_collected or any(s.ids for s in self.tests.values())
        if not (linked or self.forced):
            return
        from pytest_prodcheck.report import write_reports

        report = self._build(datetime.now(UTC))
        directory = Path(self.settings.report_dir)
        try:
            self.written = write_reports(report, directory)
        except ConfigError as exc:
            self.error = str(exc)
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            return
        cov = report.verdict.coverage
        target = report.meta.target + (
            f" {report.meta.target_url}" if report.meta.target_url else ""
        )
        stopped = f" (run INTERRUPTED: {self.interrupted})" if self.interrupted else ""
        if report.meta.unreachable:
            stopped += f" (target unreachable: {report.meta.unreachable})"
        self.summary = (
            f"verdict {report.verdict.value}{stopped} over {cov.decided}/{cov.total} checklist items "
            f"decided ({cov.unverified} not verified) on {target}; "
            f"report: {directory}/checklist.{{json,md,html}}"
        )
        from pytest_prodcheck.release.service import after_run  # the evidence history

        done = after_run(
            self.settings,
            report.to_dict(),
            os.environ,
            release_report=bool(self.config.getoption("prodcheck_history")),
            waivers=self.waivers,
            attestations=self.attestations,
        )
        self.history_lines = [mask_text(x, extra=self.secrets) for x in done.lines]
        self.history_error = mask_text(done.error, extra=self.secrets)
        if done.config_error and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.error:
            terminalreporter.write_line(f"prodcheck: ERROR: {self.error}", red=True)
        elif self.summary:
            terminalreporter.write_sep("-", "prodcheck")
            terminalreporter.write_line(f"prodcheck: {self.summary}")
            for line in self.history_lines:
                terminalreporter.write_line(f"prodcheck: {line}")
            if self.history_error:
                terminalreporter.write_line(f"prodcheck: ERROR: {self.history_error}", red=True)
