"""Security probes against real nginx servers (the stack's template), right and wrong one way each."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.probes import security
from pytest_prodcheck.probes.envfile import check_env_file
from pytest_prodcheck.probes.tls.target import SiteTarget
from tests._tls_servers import Lab

MONITORING = "monitoring.shop.test"
GOOD_COOKIE = 'location = /login { add_header Set-Cookie "session=abc; Path=/; Secure; HttpOnly; SameSite=Lax" always; return 200 "ok"; }'
BAD_COOKIE = (
    'location = /login { add_header Set-Cookie "session=abc; Path=/" always; return 200 "ok"; }'
)
REFLECT_CORS = (
    "location = /cors { add_header Access-Control-Allow-Origin $http_origin always; "
    'add_header Access-Control-Allow-Credentials "true" always; return 200 "ok"; }'
)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab.create()
    yield lab
    lab.close()


@pytest.fixture(scope="module")
def good(lab: Lab) -> SiteTarget:
    return lab.site("sec-good", extra_locations=GOOD_COOKIE)


def test_https_only_passes_when_every_name_redirects(good: SiteTarget) -> None:
    result = security.check_https_only(good)
    assert result.status == "pass", result.message
    assert "www.shop.test/" in result.observed


def test_https_only_fails_when_plain_http_serves_content(lab: Lab) -> None:
    bad = lab.site("sec-plain-http", redirect_https=False)
    result = security.check_https_only(bad)
    assert result.status == "fail" and "answered 200" in result.message


def test_cors_not_reflected_on_good_site(good: SiteTarget) -> None:
    assert security.check_cors(good).status == "pass"


def test_cors_reflected_origin_with_credentials_fails(lab: Lab) -> None:
    bad = lab.site("sec-cors", extra_locations=REFLECT_CORS)
    reflected = security.check_cors(_with_api_path(bad, "/cors"))
    assert reflected.status == "fail" and "reflects arbitrary Origin" in reflected.message
    assert "with credentials" in reflected.message


def _with_api_path(target: SiteTarget, path: str) -> SiteTarget:
    from dataclasses import replace

    return replace(target, api_path=path, api=None)


def test_cookies_secure_httponly_samesite_pass(good: SiteTarget) -> None:
    result = security.check_cookies(good, [security.CookieRequest("GET", "/login")])
    assert result.status == "pass", result.message


def test_insecure_session_cookie_fails(lab: Lab) -> None:
    bad = lab.site("sec-cookie", extra_locations=BAD_COOKIE)
    result = security.check_cookies(bad, [security.CookieRequest("GET", "/login")])
    assert result.status == "fail"
    assert "session lacks Secure" in result.message and "HttpOnly" in result.message
    assert "SameSite" in result.message


def test_no_cookie_is_not_applicable(good: SiteTarget) -> None:
    assert security.check_cookies(good).status == "n/a"


def test_monitoring_protected_by_allowlist(good: SiteTarget) -> None:
    result = security.check_monitoring_protected(good, MONITORING)
    assert result.status == "pass", result.observed


def test_open_monitoring_fails(lab: Lab) -> None:
    bad = lab.site("sec-open-monitoring", monitoring_allow=())
    result = security.check_monitoring_protected(bad, MONITORING)
    assert result.status == "fail" and "unauthenticated outsider" in result.message


@pytest.mark.parametrize(("location", "status"), [("/login", "pass"), ("/dashboards", "fail")])
def test_monitoring_redirect_only_to_a_login_counts(lab: Lab, location: str, status: str) -> None:
    """Grafana sends an outsider to /login (302); a redirect into the dashboards is still open."""
    redirect = f'if ($host = "{MONITORING}") {{ return 302 {location}; }}'
    site = lab.site(f"sec-mon-{location.strip('/')}", monitoring_allow=(), server_extra=redirect)
    result = security.check_monitoring_protected(site, MONITORING)
    assert result.status == status, result.observed


def test_admin_ports_closed_and_open() -> None:
    closed = security.check_ports_closed("127.0.0.1", {"postgres": free_port()})
    assert closed.status == "pass"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        opened = security.check_ports_closed("127.0.0.1", {"pgbouncer": port})
    assert opened.status == "fail" and f"pgbouncer 127.0.0.1:{port}" in opened.message
    assert security.check_ports_closed(None, {"x": 1}).status == "n/a"


def test_waf_not_declared_is_na_and_undefended_site_fails(good: SiteTarget) -> None:
    assert security.check_waf(good, declared=False).status == "n/a"
    result = security.check_waf(good, declared=True)
    assert result.status == "fail" and "not blocked: xss" in result.message


def test_waf_blocking_attacks_passes(lab: Lab) -> None:
    rules = 'if ($args ~* "(<script|%3Cscript|\'|%27|\\.\\./|\\.\\.%2F|%2E%2E)") { return 403; }'
    waf = lab.site("sec-waf", server_extra=rules)
    assert security.check_waf(waf, declared=True).status == "pass"


def test_unreachable_site_is_an_error(lab: Lab) -> None:
    from tests._tls_servers import target_for

    dead = target_for(free_port(), free_port(), lab.ca_bundle)
    assert security.check_cors(dead).status == "error"


# -- .env.production -----------------------------------------------------------------------------
def test_env_file_clean_passes(tmp_path: Path) -> None:
    env = tmp_path / ".env.production"
    env.write_text(
        "POSTGRES_PASSWORD=Zq8#kfL2mW9x\nDOMAIN=shop.acme.io\nAWS_BACKUP_BUCKET=acme-backups\n"
    )
    env.chmod(0o600)
    result = check_env_file(env)
    assert result.status == "pass", result.message


def test_env_file_placeholder_and_world_readable_fail_without_leaking_values(
    tmp_path: Path,
) -> None:
    env = tmp_path / ".env.production"
    env.write_text(
        "POSTGRES_PASSWORD=changeme\nSECRET_KEY=Zq8#kfL2mW9x\nDOMAIN=yourdomain.com\n"
        "AWS_BACKUP_BUCKET=your-bucket-name\n"
    )
    env.chmod(0o644)
    result = check_env_file(env)
    assert result.status == "fail"
    assert "POSTGRES_PASSWORD" in result.message and "DOMAIN" in result.message
    assert "chmod 600" in result.message
    assert "changeme" not in str(result) and "Zq8#kfL2mW9x" not in str(result)


def test_env_file_default_password_inside_a_url_fails(tmp_path: Path) -> None:
    env = tmp_path / ".env.production"
    env.write_text(
        "DATABASE_URL=postgresql://postgres:postgres@db:5432/ecommerce\n"
        "REDIS_URL=redis://:Zq8kfL2mW9x@cache:6379/0\n"
        "AI_DATABASE_URL=postgresql://ai:${AI_DB_PASSWORD}@db:5432/ai\n"
    )
    env.chmod(0o600)
    result = check_env_file(env)
    assert result.status == "fail" and result.message == "placeholder/default values: DATABASE_URL"
    assert "postgres:postgres" not in str(result)


def test_env_file_missing_fails(tmp_path: Path) -> None:
    result = check_env_file(tmp_path / "nope")
    assert result.status == "fail" and "does not exist" in result.message


@pytest.mark.skipif(os.geteuid() != 0, reason="chmod semantics differ for non-root readers")
def test_env_file_required_keys(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("A=1\n")
    env.chmod(0o600)
    assert "missing: DATABASE_URL" in check_env_file(env, required=("DATABASE_URL",)).message
