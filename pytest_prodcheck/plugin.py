"""The pytest layer: options, markers, fixtures, and the checklist report at session end.

    $ pytest -m smoke --prodcheck-release REL-123            # embedded local stack
    $ pytest -m "smoke and tls" --prodcheck-url https://shop.example.com

    @pytest.mark.smoke
    @pytest.mark.checklist("predeploy.ssl-certificates", "testing.ssl-configuration")
    def test_protocols(prodcheck_stack, prodcheck_evidence):
        result = prodcheck_evidence.check(tls.check_protocols(target_from(prodcheck_stack)))
        assert result.ok, result.message

Fixtures: ``prodcheck_settings`` (session, :class:`~pytest_prodcheck.config.Settings`),
``prodcheck_stack`` (session, :class:`~pytest_prodcheck.stack.endpoints.Endpoints`) and
``prodcheck_evidence`` (per test, :class:`~pytest_prodcheck.evidence.EvidenceRecorder`).
A :class:`MissingEndpoint` raised in a test or fixture skips the test with its message.

Under pytest-xdist each worker attaches the test's checklist ids and evidence to its reports
(``user_properties``); only the controller builds and writes the report
(:class:`~pytest_prodcheck.reporter.ChecklistReporter`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import types
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_prodcheck.checklist import load_attestations, load_waivers, unknown_id_message
from pytest_prodcheck.checklist_items import is_known
from pytest_prodcheck.config import Settings, load_settings
from pytest_prodcheck.config.preflight import preflight
from pytest_prodcheck.config_file import ConfigChoice, choose_config
from pytest_prodcheck.core.errors import ConfigError, ProdcheckError, TargetUnreachable
from pytest_prodcheck.core.secrets import mask_text, remove_legacy_pgpass_files
from pytest_prodcheck.evidence import EvidenceRecorder
from pytest_prodcheck.reporter import (
    PROP,
    SECRETS_KEY,
    SITE_URL_KEY,
    UNREACHABLE_PREFIX,
    ChecklistReporter,
    checklist_ids,
)
from pytest_prodcheck.stack.endpoints import Endpoints, MissingEndpoint
from pytest_prodcheck.suites_path import rewrite_pyargs

MARKERS: dict[str, str] = {
    "smoke": "profile: quick pre-deploy checks (minutes); `pytest -m smoke` before every deploy",
    "baseline": "profile: baseline load (50 users, 10 min)",
    "stress": "profile: stress load (200 users, 15 min), nightly",
    "spike": "profile: spike load (500 users, 5 min)",
    "endurance": "profile: endurance load (100 users, 60 min)",
    "tls": "area: TLS and certificates",
    "http": "area: HTTP hardening (headers, redirects, gzip, limits)",
    "pooling": "area: PgBouncer connection pooling and PostgreSQL",
    "backups": "area: backups, restore, retention, S3",
    "load": "area: Locust load tests",
    "security": "area: security checks",
    "acme": "area: certificate issuance and renewal over ACME",
    "monitoring": "area: monitoring and alerting",
    "xdist_group(name)": "pytest-xdist: tests of one group run on one worker (--dist loadgroup); "
    "registered here too so load tests collect with -p no:xdist --strict-markers",
    "checklist(*item_ids)": (
        "link the test to production-checklist items (ids: `prodcheck checklist`)"
    ),
}

# (flag, settings key, argparse kwargs)
OPTIONS: tuple[tuple[str, str | None, dict[str, Any]], ...] = (
    (
        "--prodcheck-config",
        None,
        {
            "metavar": "PATH",
            "help": "settings file (default: prodcheck.toml in the current directory, else rootdir)",
        },
    ),
    (
        "--prodcheck-target",
        "target",
        {
            "metavar": "local|docker|external",
            "help": (
                "what to check: the embedded stack (local, default), containers "
                "(docker) or a deployment (external)"
            ),
        },
    ),
    (
        "--prodcheck-url",
        "url",
        {"metavar": "URL", "help": "the site's base URL (implies --prodcheck-target external)"},
    ),
    (
        "--prodcheck-resolve",
        "resolve",
        {
            "metavar": "HOST:PORT:ADDR",
            "action": "append",
            "help": "connect to ADDR for HOST:PORT, like curl --resolve (repeatable)",
        },
    ),
    (
        "--prodcheck-http-url",
        "http_url",
        {
            "metavar": "URL",
            "help": "where plain HTTP is served (default: port 80 of the same host)",
        },
    ),
    (
        "--prodcheck-ca-bundle",
        "ca_bundle",
        {"metavar": "PATH", "help": "PEM bundle that verifies the site's certificate chain"},
    ),
    (
        "--prodcheck-report-dir",
        "report_dir",
        {
            "metavar": "DIR",
            "help": "where checklist.{json,md,html} are written (default: reports/)",
        },
    ),
    (
        "--prodcheck-load-duration",
        "load_duration",
        {"metavar": "SECONDS", "help": "override every load profile's run time (for CI)"},
    ),
    (
        "--prodcheck-waivers",
        "waivers",
        {
            "metavar": "PATH",
            "help": "waivers file ([[waiver]] item, justification, owner, expires)",
        },
    ),
    (
        "--prodcheck-attestations",
        "attestations",
        {
            "metavar": "PATH",
            "help": "attestations file for manual items (default: attestations.toml)",
        },
    ),
    (
        "--prodcheck-release",
        "release",
        {"metavar": "TEXT", "help": "release name or ticket key shown in the report header"},
    ),
    (
        "--prodcheck-commit",
        "commit",
        {"metavar": "SHA", "help": "git commit of the checked deployment, shown in the report"},
    ),
    (
        "--prodcheck-load-workers",
        "load.workers",
        {"metavar": "N", "help": "run Locust with a master and N local worker processes"},
    ),
    (
        "--prodcheck-history",
        None,
        {
            "action": "store_true",
            "default": False,
            "help": "also write release.{json,md,html}: every item decided from fresh evidence "
            "across the runs in the history ([history]); the run's own verdict is unchanged",
        },
    ),
    (
        "--prodcheck-host-checks",
        "host_checks",
        {
            "action": "store_true",
            "default": None,
            "help": (
                "also run host-level checks (firewall, fail2ban, log rotation): "
                "the suite runs on the server itself"
            ),
        },
    ),
)

SETTINGS_KEY = pytest.StashKey[Settings]()
EVIDENCE_KEY = pytest.StashKey[EvidenceRecorder]()
REPORTER_KEY = pytest.StashKey[ChecklistReporter]()
CONFIG_CHOICE_KEY = pytest.StashKey[ConfigChoice]()
COLLECTED_SENT_KEY = pytest.StashKey[bool]()  # an xdist worker sent its collected ids


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("prodcheck", "production readiness checks (pytest-prodcheck)")
    for flag, _key, kwargs in OPTIONS:
        group.addoption(flag, dest=_dest(flag), **kwargs)


def settings_from_config(config: pytest.Config) -> Settings:
    """Build :class:`Settings` from the options and the config file (``ConfigError`` if bad)."""
    overrides: dict[str, object] = {}
    for flag, key, _kwargs in OPTIONS:
        value = config.getoption(_dest(flag))
        if key is not None and value is not None:
            overrides[key] = value
    # the toml where pytest was started wins over the rootdir's (config_file.choose_config)
    choice = choose_config(
        config.getoption("prodcheck_config"), config.invocation_params.dir, config.rootpath
    )
    config.stash[CONFIG_CHOICE_KEY] = choice
    return load_settings(choice.path, overrides, os.environ)


def pytest_configure(config: pytest.Config) -> None:
    if config.option.pyargs:  # a checkout's suites/ under --pyargs pytest_prodcheck.suites
        config.args[:] = rewrite_pyargs(list(config.args))
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    if config.option.help or config.option.version:
        return
    try:
        settings = settings_from_config(config)
        preflight(settings)
    except ConfigError as exc:
        raise pytest.UsageError(f"prodcheck: {mask_text(str(exc))}") from None
    config.stash[SETTINGS_KEY] = settings
    remove_legacy_pgpass_files()  # what killed older versions left: no password stays on disk
    config.stash[SECRETS_KEY] = settings.secrets()
    is_worker = hasattr(config, "workerinput")
    if not is_worker and not config.option.collectonly:
        try:
            waivers = load_waivers(Path(settings.waivers)) if settings.waivers else []
            att_path = settings.attestations_path
            attestations = (
                load_attestations(att_path) if settings.attestations or att_path.exists() else []
            )
        except ConfigError as exc:
            raise pytest.UsageError(f"prodcheck: {mask_text(str(exc))}") from None
        reporter = ChecklistReporter(
            config,
            settings,
            waivers,
            attestations,
            forced=config.getoption("prodcheck_report_dir") is not None,
        )
        config.stash[REPORTER_KEY] = reporter
        config.pluginmanager.register(reporter, "prodcheck-reporter")


def pytest_report_header(config: pytest.Config) -> str | None:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        return None
    choice = config.stash.get(CONFIG_CHOICE_KEY, None)
    where = choice.describe() if choice else settings.config_path or "no prodcheck.toml"
    return (
        f"prodcheck: target {settings.describe_target()}, config {where}, "
        f"report dir {settings.report_dir}"
    )


# --- markers ------------------------------------------------------------------------------------


def _marker_problems(item: pytest.Item) -> list[str]:
    problems = []
    for mark in item.iter_markers("checklist"):
        where = f"{item.nodeid}: @pytest.mark.checklist"
        if not mark.args:
            problems.append(f"{where}() needs at least one checklist item id")
        if mark.kwargs:
            problems.append(f"{where} takes only item ids, not keywords {sorted(mark.kwargs)}")
        for arg in mark.args:
            if not isinstance(arg, str) or not is_known(arg):
                problems.append(unknown_id_message(arg, where))
    return problems


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    rep = yield
    if rep.passed:
        problems: list[str] = []
        for node in rep.result:
            if isinstance(node, pytest.Item):
                problems.extend(_marker_problems(node))
        if problems:
            rep.outcome = "failed"
            rep.longrepr = "\n".join(dict.fromkeys(problems))
            rep.result = []
    return rep


# --- MissingEndpoint -> skip ---------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    except MissingEndpoint as exc:
        pytest.skip(str(exc))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    except MissingEndpoint as exc:
        pytest.skip(str(exc))


@dataclasses.dataclass(frozen=True)
class MaskedLongrepr:
    """A failure's text with every secret masked, printed in place of pytest's own rendering
    (which shows fixture values, ``-l`` locals and ``-vv`` diffs by their repr or as strings)."""

    text: str
    reprcrash: Any = None  # .path / .lineno / .message, for the short test summary

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line)

    def __str__(self) -> str:
        return self.text


def mask_report(rep: pytest.TestReport, secrets: list[str]) -> None:
    """Mask passwords (URL, ``password=``, the run's known secrets) in a report's failure text
    and captured output; reports without any are left as they are (colours and all)."""
    longrepr = rep.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, lineno, reason)
        rep.longrepr = (longrepr[0], longrepr[1], mask_text(str(longrepr[2]), extra=secrets))
    elif longrepr is not None:
        text = rep.longreprtext
        masked = mask_text(text, extra=secrets)
        if masked != text:
            crash = getattr(longrepr, "reprcrash", None)
            if crash is not None:
                crash = types.SimpleNamespace(
                    path=crash.path,
                    lineno=crash.lineno,
                    message=mask_text(str(crash.message), extra=secrets),
                )
            rep.longrepr = MaskedLongrepr(masked, crash)  # type: ignore[assignment]
    rep.sections = [(key, mask_text(content, extra=secrets)) for key, content in rep.sections]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    secrets = item.config.stash.get(SECRETS_KEY, [])
    if call.excinfo is not None and call.excinfo.errisinstance(TargetUnreachable):
        # a user-facing condition, not a bug: one line, and the report counts it as an error
        line = UNREACHABLE_PREFIX + mask_text(str(call.excinfo.value), extra=secrets)
        crash = getattr(rep.longrepr, "reprcrash", None)
        where = types.SimpleNamespace(
            path=getattr(crash, "path", item.nodeid),
            lineno=getattr(crash, "lineno", 0),
            message=line,
        )
        rep.longrepr = MaskedLongrepr(line, where)  # type: ignore[assignment]
    mask_report(rep, secrets)
    ids = checklist_ids(item)
    if hasattr(item.config, "workerinput") and not item.config.stash.get(COLLECTED_SENT_KEY, False):
        # an xdist worker's first report carries what it collected: the controller collects
        # nothing, and an interrupted run must count the linked tests that never started
        item.config.stash[COLLECTED_SENT_KEY] = True
        collected = {i.nodeid: list(c) for i in item.session.items if (c := checklist_ids(i))}
        rep.user_properties.append((PROP, json.dumps({"collected": collected})))
    if ids:
        payload: dict[str, Any] = {"checklist": list(ids)}
        recorder = item.stash.get(EVIDENCE_KEY, None)
        if rep.when == "teardown" and recorder is not None:
            payload["evidence"] = [e.to_dict() for e in recorder.records]
        site_url = item.config.stash.get(SITE_URL_KEY, None)
        if rep.when == "teardown" and site_url:
            payload["site_url"] = site_url  # under xdist only the workers know it
        rep.user_properties.append((PROP, json.dumps(payload)))
    return rep


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def prodcheck_settings(request: pytest.FixtureRequest) -> Settings:
    """The validated, frozen settings of this run."""
    return request.config.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def prodcheck_stack(
    request: pytest.FixtureRequest, prodcheck_settings: Settings
) -> Iterator[Endpoints]:
    """The target's endpoints; starts (and always stops) the embedded stack for ``local``."""
    try:
        from pytest_prodcheck.stack.provider import open_stack
    except ImportError as exc:
        pytest.fail(
            f"prodcheck: the stack provider cannot be imported ({exc}); "
            "reinstall with `pip install -e .`",
            pytrace=False,
        )
    with contextlib.ExitStack() as stack:
        try:
            endpoints = stack.enter_context(open_stack(prodcheck_settings))
        except MissingEndpoint:
            raise
        except ProdcheckError as exc:
            pytest.fail(
                f"prodcheck: {mask_text(str(exc), extra=prodcheck_settings.secrets())}",
                pytrace=False,
            )
        secrets = request.config.stash[SECRETS_KEY]
        secrets.extend(endpoints.secrets())  # evidence recorders see them from now on
        if endpoints.site_url:  # the report header names what was checked
            request.config.stash[SITE_URL_KEY] = mask_text(endpoints.site_url, extra=secrets)
        yield endpoints


@pytest.fixture
def prodcheck_evidence(request: pytest.FixtureRequest) -> EvidenceRecorder:
    """Record measurements: ``.record(name, observed, expected, passed)``, ``.check(result)``."""
    secrets: list[str] = request.config.stash[SECRETS_KEY]  # grows when the stack starts
    recorder = EvidenceRecorder(source=request.node.nodeid, secrets=secrets)
    request.node.stash[EVIDENCE_KEY] = recorder
    return recorder
