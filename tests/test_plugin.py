"""The pytest layer, end to end in inner pytest runs (pytester): options, markers, config errors,
MissingEndpoint -> skip, evidence into the report, xdist merging, masking."""

from __future__ import annotations

import contextlib
import json
import sys
import types
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.plugin import MARKERS, OPTIONS


def fake_provider(endpoints: str) -> str:
    """A conftest that makes the plugin's own ``prodcheck_stack`` yield ``endpoints`` (source)
    instead of starting a stack; restored at unconfigure (pytester runs share our process)."""
    return f"""
import contextlib
import pytest_prodcheck.stack.provider as provider
from pytest_prodcheck.stack.endpoints import Endpoints, S3Endpoint

real_open_stack = provider.open_stack

@contextlib.contextmanager
def fake_open_stack(settings):
    yield {endpoints}

def pytest_configure(config):
    provider.open_stack = fake_open_stack

def pytest_unconfigure(config):
    provider.open_stack = real_open_stack
"""


FAKE_STACK = fake_provider('Endpoints(target="local", site_url="https://shop.test:8443")')

SUITE = """
import pytest
from pytest_prodcheck.probes import CheckResult

pytestmark = [pytest.mark.tls]

@pytest.mark.smoke
@pytest.mark.checklist("security.https-only", "testing.ssl-configuration")
def test_protocols(prodcheck_evidence):
    r = prodcheck_evidence.check(CheckResult.passed("tls.protocols", "TLSv1.2, TLSv1.3", "only TLSv1.2+"))
    prodcheck_evidence.record("p95", "312 ms", "< 1000 ms", passed=True)
    assert r.ok, r.message

@pytest.mark.smoke
@pytest.mark.checklist("performance.gzip")
def test_gzip(prodcheck_evidence):
    r = prodcheck_evidence.check(CheckResult.failed("http.gzip", "identity", "gzip", "no gzip on /"))
    assert r.ok, r.message

@pytest.mark.checklist("performance.pgbouncer")
def test_pool(prodcheck_stack):
    prodcheck_stack.require("pgbouncer_dsn", key="[pgbouncer] dsn")

@pytest.fixture
def needs_dsn(prodcheck_stack):
    return prodcheck_stack.require("postgres_dsn", key="[database] dsn")

@pytest.mark.checklist("performance.db-indexes")
def test_indexes(needs_dsn):
    pass

@pytest.mark.checklist("backups.test-script")
def test_broken_fixture(boom):
    pass

@pytest.fixture
def boom():
    raise RuntimeError("setup exploded")

def test_unlinked():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(FAKE_STACK)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def report_of(pytester: pytest.Pytester, directory: str = "reports") -> dict:
    return json.loads((pytester.path / directory / "checklist.json").read_text(encoding="utf-8"))


def items_of(report: dict) -> dict[str, dict]:
    return {i["id"]: i for i in report["items"]}


def test_help_shows_the_option_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == 0
    out = result.stdout.str()
    assert "production readiness checks (pytest-prodcheck):" in out
    for flag, _key, _kw in OPTIONS:
        assert flag in out
    assert len(OPTIONS) == 15


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    out = result.stdout.str()
    for name in MARKERS:
        assert f"@pytest.mark.{name}:" in out


def test_strict_markers_accept_every_marker(pytester: pytest.Pytester) -> None:
    names = [n for n in MARKERS if "(" not in n]
    decorators = "".join(f"@pytest.mark.{n}\n" for n in names)
    pytester.makepyfile(
        f"import pytest\n{decorators}@pytest.mark.checklist('testing.smoke')\ndef test_x(): pass\n"
    )
    result = pytester.runpytest("--strict-markers", "-W", "error")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "toml", "env", "fragment"),
    [
        ([], "colour = 1\n", {}, "unknown key colour"),
        ([], "[tls]\nmin_days = 'x'\n", {}, "[tls] min_days = 'x': expected an integer"),
        ([], "[database]\ndsn = 'postgresql://a:${NOPE_PW}@h/db'\n", {}, "NOPE_PW"),
        ([], "[pgbouncer]\ndsn = 'mysql://u:pw@h/db'\n", {}, "[pgbouncer] dsn"),
        (["--prodcheck-url", "ftp://x"], "", {}, "url = 'ftp://x'"),
        (["--prodcheck-load-duration", "soon"], "", {}, "load_duration = 'soon'"),
        (["--prodcheck-resolve", "host-only"], "", {}, "HOST:PORT:ADDR"),
        (["--prodcheck-config", "missing.toml"], "", {}, "missing.toml not found"),
        (["--prodcheck-waivers", "nowaivers.toml"], "", {}, "nowaivers.toml not found"),
    ],
)
def test_config_errors_are_one_line_usage_errors(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    toml: str,
    env: dict[str, str],
    fragment: str,
) -> None:
    monkeypatch.delenv("NOPE_PW", raising=False)
    if toml:
        pytester.makefile(".toml", prodcheck=toml)
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert fragment in err, err
    assert "Traceback" not in err + result.stdout.str()
    error_lines = [ln for ln in err.splitlines() if ln.startswith("ERROR:")]
    assert len(error_lines) == 1 and error_lines[0].startswith("ERROR: prodcheck: ")


def test_unknown_checklist_id_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.checklist("security.htps-only")
        def test_a(): pass
        @pytest.mark.checklist()
        def test_b(): pass
        """
    )
    pytester.makepyfile(
        test_cls="""
        import pytest
        class TestC:
            @pytest.mark.checklist(42)
            def test_c(self): pass
        """
    )
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    out = result.stdout.str()
    assert "unknown checklist id 'security.htps-only' (did you mean 'security.https-only'?)" in out
    assert "test_b: @pytest.mark.checklist() needs at least one checklist item id" in out
    assert "unknown checklist id 42" in out
    assert "2 errors during collection" in out


def test_run_writes_report_with_statuses_and_evidence(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "--prodcheck-release", "REL-7", "--prodcheck-commit", "abc123", "-m", "not nothing"
    )
    result.assert_outcomes(passed=2, failed=1, skipped=2, errors=1)
    assert "prodcheck: verdict NO-GO over" in result.stdout.str()
    report = report_of(suite)
    items = items_of(report)
    assert len(items) == 51 and report["schema_version"] == 1
    assert items["security.https-only"]["status"] == "passed"
    ev = items["security.https-only"]["evidence"]
    assert {
        "name": "tls.protocols",
        "status": "pass",
        "observed": "TLSv1.2, TLSv1.3",
    }.items() <= ev[0].items()
    assert ev[1]["name"] == "p95" and ev[1]["expected"] == "< 1000 ms"
    assert items["performance.gzip"]["status"] == "failed"
    assert "no gzip on /" in items["performance.gzip"]["tests"][0]["message"]
    # MissingEndpoint in the test and in a fixture -> skipped, reason kept as evidence
    pool = items["performance.pgbouncer"]
    assert pool["status"] == "skipped"
    assert "pgbouncer_dsn is not configured" in pool["evidence"][0]["observed"]
    assert items["performance.db-indexes"]["status"] == "skipped"
    assert items["backups.test-script"]["status"] == "error"
    assert items["testing.stress"]["status"] == "not_run"
    assert items["security.firewall"]["status"] == "manual"
    run = report["run"]
    assert (run["release"], run["commit"], run["marker_expression"]) == (
        "REL-7",
        "abc123",
        "not nothing",
    )
    assert run["target"] == "local" and run["tests_run"] == 6
    assert run["target_url"] == "https://shop.test:8443"  # the site the local stack served
    assert "on local https://shop.test:8443" in result.stdout.str()
    md = (suite.path / "reports" / "checklist.md").read_text(encoding="utf-8")
    assert "- **Target:** local https://shop.test:8443" in md.splitlines()
    assert run["command_line"].startswith("pytest ") and "REL-7" in run["command_line"]
    assert report["verdict"] == "NO-GO"
    for name in ("checklist.md", "checklist.html"):
        assert (suite.path / "reports" / name).stat().st_size > 1000


def test_waivers_and_attestations_from_options(suite: pytest.Pytester) -> None:
    today = datetime.now(UTC).date()
    suite.makefile(
        ".toml",
        waivers='[[waiver]]\nitem = "performance.gzip"\njustification = "CDN gzips"\n'
        'owner = "ops"\nexpires = 2999-01-01\n'
        '[[waiver]]\nitem = "backups.test-script"\njustification = "old"\nowner = "ops"\n'
        "expires = 2000-01-01\n",
        attest='[[attestation]]\nitem = "security.firewall"\nby = "Jane"\n'
        f'at = {today - timedelta(days=3)}T00:00:00Z\nevidence = "https://t/1"\n'
        '[[attestation]]\nitem = "security.fail2ban"\nby = "Joe"\nat = 2999-01-01T00:00:00Z\n'
        'evidence = "https://t/2"\n',
    )
    suite.runpytest(
        "--prodcheck-waivers", "waivers.toml", "--prodcheck-attestations", "attest.toml"
    )
    report = report_of(suite)
    items = items_of(report)
    assert items["performance.gzip"]["status"] == "waived"
    assert items["performance.gzip"]["waiver"]["owner"] == "ops"
    assert items["backups.test-script"]["status"] == "error"
    assert report["expired_waivers"][0]["item"] == "backups.test-script"
    assert items["security.firewall"]["status"] == "manual"
    assert items["security.firewall"]["attestation"]["by"] == "Jane"
    fail2ban = items["security.fail2ban"]  # dated in the future: does not count
    assert (fail2ban["status"], fail2ban["attestation"]) == ("manual", None)
    assert "in the future; ignored" in fail2ban["notes"][0]
    assert report["verdict"] == "NO-GO"  # the error still blocks


def test_bad_waiver_file_is_a_usage_error(suite: pytest.Pytester) -> None:
    suite.makefile(".toml", waivers='[[waiver]]\nitem = "nope.x"\n')
    result = suite.runpytest("--prodcheck-waivers", "waivers.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown checklist id 'nope.x'" in result.stderr.str()


def test_report_dir_option_and_config_file(suite: pytest.Pytester) -> None:
    suite.makefile(".toml", prodcheck='report_dir = "out/rep"\nrelease = "from-file"\n')
    suite.runpytest("-k", "protocols")
    report = report_of(suite, "out/rep")
    assert report["run"]["release"] == "from-file"
    assert report["verdict"] == "GO"
    assert report["coverage"] == {"total": 51, "decided": 2, "unverified": 49, "complete": False}


def test_no_report_when_no_test_is_linked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    pytester.runpytest().assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()
    pytester.runpytest("--prodcheck-report-dir", "forced")
    assert report_of(pytester, "forced")["verdict"] == "NO-GO"


def test_unwritable_report_dir_is_reported(suite: pytest.Pytester) -> None:
    (suite.path / "afile").write_text("x")
    result = suite.runpytest("--prodcheck-report-dir", "afile/sub", "-k", "protocols")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "prodcheck: ERROR: cannot write the report into afile/sub" in result.stdout.str()


def test_secrets_are_masked_in_reports(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_PW", "hunter2secret")
    pytester.makeconftest(FAKE_STACK)
    pytester.makefile(
        ".toml", prodcheck='[database]\ndsn = "postgresql://app:${SHOP_PW}@db:5432/ecommerce"\n'
    )
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.checklist("predeploy.strong-passwords")
        def test_pw(prodcheck_settings, prodcheck_evidence):
            prodcheck_evidence.record("dsn", prodcheck_settings.database.dsn, "", passed=True)
            prodcheck_evidence.record("raw", "the password is hunter2secret", "", passed=True)
            assert False, "connect " + prodcheck_settings.database.dsn
        """
    )
    pytester.runpytest("--prodcheck-release", "password=hunter2secret")
    for name in ("checklist.json", "checklist.md", "checklist.html"):
        text = (pytester.path / "reports" / name).read_text(encoding="utf-8")
        assert "hunter2secret" not in text, name
        assert "***" in text


def test_xdist_evidence_from_both_workers(pytester: pytest.Pytester) -> None:
    ids = ["security.cors", "performance.gzip", "testing.smoke", "backups.retention"]
    pytester.makepyfile(
        f"""
        import os, time, pytest
        @pytest.mark.parametrize("item", {ids!r} * 3)
        def test_w(item, request, prodcheck_evidence):
            request.applymarker(pytest.mark.checklist(item))
            time.sleep(0.05)
            prodcheck_evidence.record("worker", os.environ["PYTEST_XDIST_WORKER"], passed=True)
        """
    )
    pytester.runpytest("-n", "2").assert_outcomes(passed=12)
    report = report_of(pytester)
    workers = {e["observed"] for i in report["items"] if i["id"] in ids for e in i["evidence"]}
    assert workers == {"gw0", "gw1"}
    assert sum(len(i["tests"]) for i in report["items"]) == 12


def test_xdist_workers_merge_into_one_report(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-n", "2", "--prodcheck-report-dir", "xd")
    result.assert_outcomes(passed=2, failed=1, skipped=2, errors=1)
    report = report_of(suite, "xd")
    items = items_of(report)
    assert report["run"]["workers"] == 2
    assert report["run"]["target_url"] == "https://shop.test:8443"  # known only to workers
    assert report["run"]["tests_run"] == 6
    assert items["security.https-only"]["evidence"][0]["name"] == "tls.protocols"
    assert items["performance.gzip"]["status"] == "failed"
    assert items["performance.pgbouncer"]["status"] == "skipped"
    assert items["backups.test-script"]["status"] == "error"
    workers = {i["tests"][0]["nodeid"] for i in items.values() if i["tests"]}
    assert len(workers) == 5  # all linked tests from both workers, one report
    assert sorted(p.name for p in (suite.path / "xd").iterdir()) == [
        "checklist.html",
        "checklist.json",
        "checklist.md",
        "history",  # one record of this run (issue 14)
    ]
    assert len(list((suite.path / "xd" / "history").glob("*.json"))) == 1


def test_settings_fixture_sees_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_s(prodcheck_settings):
            assert prodcheck_settings.target == "external"
            assert prodcheck_settings.url == "https://shop.example.com"
            assert prodcheck_settings.resolve == ("shop.example.com:443:127.0.0.1",)
            assert prodcheck_settings.load.workers == 3
            assert prodcheck_settings.host_checks is True
            assert prodcheck_settings.load_duration == 20
        """
    )
    result = pytester.runpytest(
        "--prodcheck-url",
        "https://shop.example.com",
        "--prodcheck-resolve",
        "shop.example.com:443:127.0.0.1",
        "--prodcheck-load-workers",
        "3",
        "--prodcheck-host-checks",
        "--prodcheck-load-duration",
        "20",
    )
    result.assert_outcomes(passed=1)


def test_stack_fixture_failure_is_one_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    @contextlib.contextmanager
    def broken(settings: object) -> Iterator[None]:
        raise TargetUnreachable("cannot reach https://shop.example.com: connection refused")
        yield

    fake = types.ModuleType("pytest_prodcheck.stack.provider")
    fake.open_stack = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pytest_prodcheck.stack.provider", fake)
    pytester.makepyfile("def test_a(prodcheck_stack): pass")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "prodcheck: cannot reach https://shop.example.com: connection refused" in out


@pytest.mark.parametrize(
    ("args", "files", "fragment"),
    [
        ([], {"prodcheck": "url = \n"}, "not valid TOML"),
        (["--prodcheck-target", "cloud"], {}, "target = 'cloud': expected one of local"),
        (
            ["--prodcheck-attestations", "att.toml"],
            {"att": '[[attestation]]\nitem = "security.https-only"\n'},
            "security.https-only is automated",
        ),
        (
            ["--prodcheck-waivers", "w.toml"],
            {"w": '[[waiver]]\nitem = "performance.cdn"\njustification = "x"\nowner = "o"\n'},
            "expires must be a date",
        ),
        (
            ["--prodcheck-url", "https://app:hunter22@shop.example.com:99999"],
            {},
            "invalid port",
        ),
    ],
)
def test_more_bad_input_is_one_line_usage_error(
    pytester: pytest.Pytester, args: list[str], files: dict[str, str], fragment: str
) -> None:
    for name, text in files.items():
        pytester.makefile(".toml", **{name: text})
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert fragment in err, err
    assert "Traceback" not in err + result.stdout.str()
    assert "hunter22" not in err + result.stdout.str()
    assert len([ln for ln in err.splitlines() if ln.startswith("ERROR:")]) == 1


def test_no_test_selected_exit_5_still_reports_no_go(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-k", "no_such_test", "--prodcheck-report-dir", "r5")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    report = report_of(suite, "r5")
    assert report["verdict"] == "NO-GO" and report["run"]["tests_run"] == 0
    assert "no checklist item was decided" in report["verdict_reasons"][0]
    assert {i["status"] for i in report["items"]} == {"not_run", "manual"}


def test_interrupted_test_is_not_reported_as_passed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.checklist("security.cors")
        def test_interrupted():
            raise KeyboardInterrupt
        """
    )
    result = pytester.runpytest_subprocess()  # in-process, the interrupt would reach us too
    assert result.ret == pytest.ExitCode.INTERRUPTED
    item = items_of(report_of(pytester))["security.cors"]
    assert item["status"] == "error"
    assert item["tests"][0]["message"].startswith("interrupted")


def test_crashed_xdist_worker_is_not_reported_as_passed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os, pytest
        @pytest.mark.checklist("security.cors")
        def test_crash():
            os._exit(1)
        @pytest.mark.checklist("performance.gzip")
        def test_ok():
            pass
        """
    )
    pytester.runpytest("-n", "2")
    items = items_of(report_of(pytester))
    assert items["security.cors"]["status"] == "failed"
    assert items["performance.gzip"]["status"] == "passed"


def test_stack_passwords_are_masked_in_evidence_and_messages(pytester: pytest.Pytester) -> None:
    import pytest_prodcheck.stack.provider as provider

    real = provider.open_stack
    pytester.makeconftest(
        fake_provider(
            'Endpoints(target="local", '
            'postgres_dsn="postgresql://app:stackpw123@127.0.0.1:5432/ecommerce", '
            's3=S3Endpoint(bucket="b", secret_access_key="s3key456"))'
        )
    )
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.checklist("predeploy.strong-passwords")
        def test_pw(prodcheck_evidence, prodcheck_stack):  # recorder made before the stack
            prodcheck_evidence.record("pw", "stackpw123 and s3key456", passed=False)
            assert False, {"password": "stackpw123"}
        """
    )
    pytester.runpytest().assert_outcomes(failed=1)
    for name in ("checklist.json", "checklist.md", "checklist.html"):
        text = (pytester.path / "reports" / name).read_text(encoding="utf-8")
        assert "stackpw123" not in text and "s3key456" not in text, name
        assert "***" in text
    assert provider.open_stack is real  # the fake does not outlive the inner run
