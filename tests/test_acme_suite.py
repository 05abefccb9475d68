"""suites/test_acme.py run by pytest itself on a local target (real nginx + Pebble): the guide's
flow (issue, install where nginx reads, reload, judge what nginx serves) passes; a reload that
does not reload, or challenges nginx does not serve, fail; the served certificate is put back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.acme.certinfo import cert_info
from pytest_prodcheck.core.proc import make_tempdir
from tests._acme_env import DOMAIN, NAMES, AcmeEnv

SUITE = Path(__file__).resolve().parent.parent / "suites" / "test_acme.py"

SUITE_CONFTEST = SUITE.with_name("conftest.py")  # the suites' own fixtures (judge, …)
CONFTEST = """
pytest_plugins = ["suite_conftest"]
import json, os
import pytest
from pytest_prodcheck.stack.endpoints import Endpoints

@pytest.fixture(scope="session")
def prodcheck_stack():
    return Endpoints(**json.loads(os.environ["ACME_SUITE_ENDPOINTS"]))
"""

TESTS = (
    "test_check[acme.issuer]",
    "test_check[acme.remaining-lifetime]",
    "test_check[acme.renewal]",
    "test_check[acme.renewal-scheduled]",
)


@pytest.fixture(scope="module")
def env() -> Iterator[AcmeEnv]:
    e = AcmeEnv.start()
    try:
        yield e
    finally:
        e.stop()


def _endpoints(env: AcmeEnv, **override: object) -> str:
    https, http = env.nginx.options.https_port, env.nginx.options.http_port
    data: dict[str, object] = {
        "target": "local",
        "site_url": f"https://{DOMAIN}:{https}",
        "http_url": f"http://{DOMAIN}:{http}",
        "apex": NAMES[0],
        "www": NAMES[1],
        "api": NAMES[2],
        "monitoring": NAMES[3],
        "resolve": [f"{n}:{p}:127.0.0.1" for n in NAMES for p in (https, http)],
        "acme_directory": env.pebble.directory_url,
        "acme_ca_bundle": str(env.pebble.api_ca_path),
        "acme_roots": str(env.roots),
        "webroot": str(env.nginx.webroot),
        "cert_dir": str(env.store.live_dir(DOMAIN)),
        "nginx_reload_command": list(env.nginx.reload_command),
        "extras": {"nginx_pid": str(env.nginx.process.pid)},
    }
    data.update(override)
    return json.dumps(data)


def _run(pytester: pytest.Pytester, env: AcmeEnv, **override: object) -> dict[str, str]:
    pytester.makepyfile(suite_conftest=SUITE_CONFTEST.read_text())
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_acme=SUITE.read_text())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ACME_SUITE_ENDPOINTS", _endpoints(env, **override))
        result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    out: dict[str, str] = {}
    for line in result.outlines:
        words = line.split()
        status = next((w for w in words if w in ("PASSED", "FAILED", "SKIPPED", "ERROR")), None)
        if line.startswith("test_acme.py::") and status:
            out[words[0].split("::", 1)[1]] = status
    out["_stdout"] = result.stdout.str()
    return out


def _assert_bootstrap_served_again(env: AcmeEnv, live: tuple[bytes, bytes]) -> None:
    assert env.live_bytes() == live, "the stack's certificate was not put back"
    serial = cert_info(live[0]).serial
    for name in NAMES:
        served = env.served(name)  # verified against pebble's root: the bootstrap cert is not
        assert not served.verified and served.info is not None
        assert served.info.serial == serial, f"{name}: nginx still serves the issued certificate"


def test_suite_issues_installs_reloads_and_judges_what_nginx_serves(
    pytester: pytest.Pytester, env: AcmeEnv
) -> None:
    live = env.live_bytes()
    outcomes = _run(pytester, env)
    stdout = outcomes.pop("_stdout")
    assert outcomes == dict.fromkeys(TESTS, "PASSED"), stdout
    evidence = json.loads((pytester.path / "reports" / "checklist.json").read_text())
    items = {i["id"]: i["status"] for i in evidence["items"]}
    assert items["predeploy.ssl-certificates"] == "passed"
    assert items["testing.ssl-configuration"] == "passed"
    text = json.dumps(evidence)
    assert "Pebble Intermediate CA" in text and "BEGIN PRIVATE KEY" not in text
    _assert_bootstrap_served_again(env, live)


def test_suite_fails_when_the_reload_does_not_reload(
    pytester: pytest.Pytester, env: AcmeEnv
) -> None:
    """The certificate is issued and installed, but nginx keeps serving the old one."""
    live = env.live_bytes()
    outcomes = _run(pytester, env, nginx_reload_command=["true"])
    stdout = outcomes.pop("_stdout")
    assert outcomes["test_check[acme.issuer]"] == "FAILED", stdout
    assert "unable to get local issuer certificate" in stdout
    _assert_bootstrap_served_again(env, live)


def test_suite_fails_when_nginx_does_not_serve_the_challenges(
    pytester: pytest.Pytester, env: AcmeEnv
) -> None:
    live = env.live_bytes()
    outcomes = _run(pytester, env, webroot=str(make_tempdir("unserved-webroot-")))
    stdout = outcomes.pop("_stdout")
    assert outcomes["test_check[acme.issuer]"] == "FAILED", stdout
    assert outcomes["test_check[acme.renewal]"] == "FAILED", stdout
    assert "issuance failed: HTTP-01 validation of" in stdout
    _assert_bootstrap_served_again(env, live)
