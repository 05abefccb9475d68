"""What every suite module shares: one way to record a result and assert it, and check tables
turned into parametrised tests.

    def test_gzip(pages: PageSet, judge: Judge) -> None:
        judge(http.check_gzip(pages))     # evidence recorded; fails "http.gzip: … (observed: …)"

    CHECKS = SITE_CHECKS.marked("http")   # a module-level table slice …
    def test_check(check: SiteCheck, inputs: SiteInputs, judge: Judge) -> None:
        judge(check.run(inputs))          # … parametrises ``check``: test_check[http.gzip]

Each ``check`` parameter carries its row's markers (``smoke``, ``tls`` …) and, when it has
checklist items, ``@pytest.mark.checklist(*items)``, so ``-m smoke`` and the checklist report
read the table. ``site`` is the target's web site; ``inputs`` the module's shared site inputs
with the one the ``check`` reads fetched during setup (a TLS scan that cannot run is a test
error, not a failure). Failure messages (masked like the evidence) have one shape::

    <id>: <message> (observed: <observed>; expected: <expected>)
    <id>: could not run: <reason>
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pytest

from pytest_prodcheck.config import Settings
from pytest_prodcheck.core.checks import CheckSpec
from pytest_prodcheck.core.errors import ProdcheckError
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.core.secrets import mask_text
from pytest_prodcheck.evidence import EvidenceRecorder
from pytest_prodcheck.probes.site_checks import SiteCheck, SiteInputs
from pytest_prodcheck.probes.tls.target import SiteTarget
from pytest_prodcheck.stack.endpoints import Endpoints


def describe(result: CheckResult) -> str:
    """The one-line verdict of a result that is not ok (the suites' only failure style)."""
    if result.status == "error":
        return f"{result.id}: could not run: {result.message}"
    text = f"{result.id}: {result.message or result.status}"
    details = [f"observed: {result.observed}"] if result.observed else []
    if result.expected:
        details.append(f"expected: {result.expected}")
    return f"{text} ({'; '.join(details)})" if details else text


@dataclass(frozen=True)
class Judge:
    """Records results as the test's evidence and fails the test on any that is not ok."""

    evidence: EvidenceRecorder

    def _mask(self, text: str) -> str:
        return mask_text(text, extra=list(self.evidence.secrets))

    def __call__(self, result: CheckResult, *, where: str = "") -> CheckResult:
        """Record ``result``; fail unless it is ok (``where``: what was judged, appended)."""
        __tracebackhide__ = True
        return self.all([result], where=where)[0]

    def all(self, results: Sequence[CheckResult], *, where: str = "") -> Sequence[CheckResult]:
        """Record every result; fail naming each one that is not ok."""
        __tracebackhide__ = True
        for result in results:
            self.evidence.check(result)
        self.summary(
            all(r.ok for r in results),
            "; ".join(describe(r) for r in results if not r.ok) + (f" ({where})" if where else ""),
        )
        return results

    def summary(self, ok: bool, headline: str, lines: Iterable[str] = ()) -> None:
        """Fail with ``headline`` (and ``lines`` below it) unless ``ok``; nothing recorded."""
        __tracebackhide__ = True
        if not ok:
            raise AssertionError(self._mask("\n".join([headline, *lines])))


@pytest.fixture
def judge(prodcheck_evidence: EvidenceRecorder) -> Judge:
    return Judge(prodcheck_evidence)


def table_params(checks: Iterable[CheckSpec[object]]) -> list[object]:
    """``pytest.param`` per row: id = check id, marks = its markers + its checklist items."""
    params: list[object] = []
    for check in checks:
        marks = [getattr(pytest.mark, m) for m in check.markers]
        if check.items:
            marks.append(pytest.mark.checklist(*check.items))
        params.append(pytest.param(check, id=check.id, marks=marks))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise a test's ``check`` argument with its module's ``CHECKS`` table rows."""
    checks = getattr(metafunc.module, "CHECKS", None)
    if checks is not None and "check" in metafunc.fixturenames:
        metafunc.parametrize("check", table_params(checks))


@pytest.fixture(scope="module")
def site(prodcheck_stack: Endpoints, prodcheck_settings: Settings) -> SiteTarget:
    return SiteTarget.from_endpoints(prodcheck_stack, prodcheck_settings)


@pytest.fixture(scope="module")
def site_inputs(site: SiteTarget) -> SiteInputs:
    """One sslyze scan, one handshake per name, the pages: each fetched once per module."""
    return SiteInputs(site)


@pytest.fixture
def inputs(check: SiteCheck, site_inputs: SiteInputs) -> SiteInputs:
    try:
        site_inputs.prepare(check.group)
    except ProdcheckError as exc:
        pytest.fail(f"prodcheck: {exc}", pytrace=False)
    return site_inputs
