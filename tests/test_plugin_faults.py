"""The pytest layer under bad input and faults (pytester, and the real suites against a closed
port): one usage line at configure time, no secret in any output, an unreachable target is
one reason for the run (errors, never failures of the site)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BINARY = b"\xff\xfe\x00\x81binary\x00\xc3\x28"

SECRETS = ("PASSWORD", "DBPASSWORD", "PGBPASSWORD", "ADMINPASSWORD", "S3SECRETKEY", "GRAFANATOK")

FAKE_STACK = """
import contextlib
import pytest_prodcheck.stack.provider as provider
from pytest_prodcheck.stack.endpoints import Endpoints, S3Endpoint

real_open_stack = provider.open_stack

@contextlib.contextmanager
def fake_open_stack(settings):
    yield Endpoints(
        target="external",
        site_url="https://admin:PASSWORD@shop.test:8443",
        postgres_dsn="postgresql://app:DBPASSWORD@127.0.0.1:1/ecommerce",
        pgbouncer_dsn="host=127.0.0.1 port=2 dbname=ecommerce user=app password=PGBPASSWORD",
        postgres_admin_dsn="postgresql://postgres:ADMINPASSWORD@127.0.0.1:1/postgres",
        s3=S3Endpoint(bucket="b", access_key_id="AKIA", secret_access_key="S3SECRETKEY"),
    )

def pytest_configure(config):
    provider.open_stack = fake_open_stack

def pytest_unconfigure(config):
    provider.open_stack = real_open_stack
"""

LEAKY_SUITE = """
import pytest
from pytest_prodcheck.core.errors import TargetUnreachable

@pytest.mark.checklist("security.https-only")
def test_site(prodcheck_stack, prodcheck_settings):
    url = prodcheck_stack.site_url
    dsn = prodcheck_stack.postgres_dsn
    kv = prodcheck_stack.pgbouncer_dsn
    secret = prodcheck_stack.s3.secret_access_key
    print("connecting to", url, dsn, kv)
    assert url == "https://nobody@elsewhere", (prodcheck_stack, prodcheck_settings)

@pytest.mark.checklist("performance.pgbouncer")
def test_database(prodcheck_stack):
    raise TargetUnreachable(f"PostgreSQL {prodcheck_stack.postgres_dsn} unreachable: refused")
"""


def _one_usage_line(result: pytest.RunResult, fragment: str) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    err, out = result.stderr.str(), result.stdout.str()
    assert "Traceback" not in err + out and "INTERNALERROR" not in err + out
    lines = [ln for ln in err.splitlines() if ln.startswith("ERROR:")]
    assert len(lines) == 1 and lines[0].startswith("ERROR: prodcheck: "), err
    assert fragment in lines[0], lines[0]
    assert "passed" not in out and "error" not in out.lower().replace("errors", "")  # no test ran
    return lines[0]


@pytest.mark.parametrize("which", ["config", "waivers", "attestations"])
def test_a_binary_settings_file_is_one_usage_line_naming_it(
    pytester: pytest.Pytester, which: str
) -> None:
    path = pytester.path / f"{which}.toml"
    path.write_bytes(BINARY)
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest(f"--prodcheck-{which}", str(path))
    line = _one_usage_line(result, str(path))
    assert "not UTF-8" in line


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--prodcheck-resolve", "shop.test:443:not-an-ip"], "'not-an-ip' is not an IP address"),
        (["--prodcheck-ca-bundle", "/nope.pem"], "ca_bundle /nope.pem does not exist"),
        (["--prodcheck-report-dir", "afile"], "report_dir afile is a file, not a directory"),
        (["--prodcheck-report-dir", "afile/sub"], "afile is a file, not a directory"),
    ],
)
def test_bad_paths_and_addresses_are_caught_at_configure_time(
    pytester: pytest.Pytester, args: list[str], fragment: str
) -> None:
    (pytester.path / "afile").write_text("not a directory\n")
    pytester.makepyfile(
        "import pytest\n"
        "@pytest.mark.checklist('testing.smoke')\n"
        "def test_x(prodcheck_stack): pass\n"
    )
    result = pytester.runpytest("--prodcheck-url", "https://shop.test", *args)
    _one_usage_line(result, fragment)


def test_a_ca_bundle_without_a_certificate_is_refused(pytester: pytest.Pytester) -> None:
    (pytester.path / "empty.pem").write_text("# nothing here\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--prodcheck-ca-bundle", "empty.pem")
    _one_usage_line(result, "holds no PEM certificate")


@pytest.mark.parametrize("flags", [[], ["-vvv", "-l"], ["-vvv", "-l", "--tb=long", "-rA"]])
def test_no_secret_in_any_output_or_report(pytester: pytest.Pytester, flags: list[str]) -> None:
    pytester.makeconftest(FAKE_STACK)
    pytester.makefile(
        ".toml",
        prodcheck=(
            "[database]\n"
            'admin_dsn = "host=127.0.0.1 dbname=postgres user=postgres password=ADMINPASSWORD"\n'
            "[monitoring]\n"
            'grafana_token = "GRAFANATOK"\n'
        ),
    )
    pytester.makepyfile(test_leaky=LEAKY_SUITE)
    result = pytester.runpytest(
        "--prodcheck-url", "https://admin:PASSWORD@shop.test:8443", "-p", "no:randomly", *flags
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    text = result.stdout.str() + result.stderr.str()
    assert "Endpoints(" in text or not flags  # the fixture values were printed …
    for secret in SECRETS:
        assert secret not in text, f"{secret} leaked:\n{text}"  # … masked
    for path in (p for p in (pytester.path / "reports").rglob("*") if p.is_file()):
        body = path.read_text(encoding="utf-8", errors="replace")  # reports and the history
        assert not [s for s in SECRETS if s in body], path


def test_a_target_unreachable_in_a_test_is_one_line_and_an_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FAKE_STACK)
    pytester.makepyfile(test_leaky=LEAKY_SUITE)
    result = pytester.runpytest("-k", "database")
    text = result.stdout.str()
    assert "Traceback" not in text and "raise TargetUnreachable" not in text
    result.stdout.fnmatch_lines(
        ["prodcheck: target unreachable: PostgreSQL postgresql://app:***@127.0.0.1:1/ecommerce*"]
    )
    report = json.loads((pytester.path / "reports" / "checklist.json").read_text())
    item = next(i for i in report["items"] if i["id"] == "performance.pgbouncer")
    assert item["status"] == "error"  # not a finding about the database
    assert report["run"]["target_unreachable"].startswith("PostgreSQL postgresql://app:***@")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_site_is_one_reason_not_site_failures(tmp_path: Path) -> None:
    """The real suites against a port nothing listens on: errors with one short reason."""
    port = _closed_port()
    env = {**os.environ, "PYTEST_ADDOPTS": "-p no:cacheprovider"}
    proc = subprocess.run(
        [
            sys.executable, "-m", "pytest", "suites/test_tls.py", "suites/test_http.py",
            "-m", "tls or http", "-q",
            "--prodcheck-url", f"https://admin:PASSWORD@shop.test:{port}",
            "--prodcheck-resolve", f"shop.test:{port}:127.0.0.1",
            "--prodcheck-report-dir", str(tmp_path),
        ],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "PASSWORD" not in out
    assert " failed" not in out.splitlines()[-1], out.splitlines()[-1]  # errors only
    errors = [ln for ln in out.splitlines() if ln.startswith("ERROR suites/")]
    assert len(errors) >= 10
    reasons = [ln for ln in out.splitlines() if ln.startswith("prodcheck: target unreachable: ")]
    assert len(reasons) == len(errors)  # every error carries the one-line reason …
    assert len({r.split("target unreachable: ", 1)[1] for r in reasons}) == 1  # … the same one
    report = json.loads((tmp_path / "checklist.json").read_text())
    assert report["run"]["target_unreachable"] == (
        f"cannot connect to shop.test:{port} (127.0.0.1): Connection refused"
    )
    assert report["verdict_reasons"][0].startswith("target unreachable")
    statuses = {i["status"] for i in report["items"] if i["tests"]}
    assert "failed" not in statuses and "error" in statuses
