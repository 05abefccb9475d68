"""Security: HTTPS only, CORS, cookies, monitoring exposure, admin ports, WAF, secrets file, host.

Host-level items (firewall, fail2ban, log rotation, encryption at rest, VPN, accounts) are checked
only with ``--prodcheck-host-checks`` (run the suite on the server itself); otherwise they are
manual checklist items decided by an attestation.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from pytest_prodcheck.config import Settings
from pytest_prodcheck.probes import host as host_checks
from pytest_prodcheck.probes import security
from pytest_prodcheck.probes.envfile import check_env_file
from pytest_prodcheck.probes.tls.target import SiteTarget
from pytest_prodcheck.stack.endpoints import Endpoints

if TYPE_CHECKING:
    from suites.conftest import Judge

pytestmark = [pytest.mark.security]


@pytest.mark.smoke
@pytest.mark.checklist("security.https-only")
def test_https_only_on_every_name(site: SiteTarget, judge: Judge) -> None:
    judge(security.check_https_only(site))


@pytest.mark.smoke
@pytest.mark.checklist("security.cors", "testing.security-audit")
def test_cors_does_not_reflect_foreign_origins(site: SiteTarget, judge: Judge) -> None:
    judge(security.check_cors(site))


@pytest.mark.smoke
@pytest.mark.checklist("testing.security-audit")
def test_session_cookies_are_secure(
    site: SiteTarget, prodcheck_stack: Endpoints, judge: Judge
) -> None:
    """Log in (registering a throwaway user on the embedded shop) and judge the cookies set."""
    requests = [security.CookieRequest("GET", "/")]
    if prodcheck_stack.target in ("local", "docker"):  # the embedded shop
        email = f"audit-{secrets.token_hex(4)}@example.test"
        password = secrets.token_urlsafe(12)
        body = json.dumps({"email": email, "password": password, "name": "Audit"}).encode()
        creds = json.dumps({"email": email, "password": password}).encode()
        json_header = (("Content-Type", "application/json"),)
        requests += [
            security.CookieRequest("POST", "/api/auth/register", body, json_header),
            security.CookieRequest("POST", "/api/auth/login", creds, json_header),
        ]
    judge(security.check_cookies(site, requests))


@pytest.mark.smoke
@pytest.mark.checklist("testing.security-audit")
def test_monitoring_name_is_not_open(
    site: SiteTarget, prodcheck_stack: Endpoints, judge: Judge
) -> None:
    judge(security.check_monitoring_protected(site, prodcheck_stack.monitoring))


@pytest.mark.smoke
@pytest.mark.checklist("testing.security-audit")
def test_database_ports_not_public(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, judge: Judge
) -> None:
    """Postgres/PgBouncer ports are not reachable on the public address ([security] public_address;
    on the embedded stack: the address nginx serves the site on)."""
    public = prodcheck_settings.security.public_address
    if public is None and prodcheck_stack.target in ("local", "docker"):
        public = next(iter(prodcheck_stack.resolve_map().values()), None)
    dsns = {"postgres": prodcheck_stack.postgres_dsn, "pgbouncer": prodcheck_stack.pgbouncer_dsn}
    ports = {name: urlsplit(dsn).port or 5432 for name, dsn in dsns.items() if dsn}
    if not public:
        pytest.skip("no public address to probe: set [security] public_address in prodcheck.toml")
    judge(security.check_ports_closed(str(public), ports))


@pytest.mark.checklist("security.waf")
def test_waf_blocks_obvious_attacks(
    site: SiteTarget, prodcheck_settings: Settings, judge: Judge
) -> None:
    result = security.check_waf(site, prodcheck_settings.security.waf)
    if result.status == "n/a":
        judge.evidence.check(result)
        pytest.skip(result.message)
    judge(result)


@pytest.mark.smoke
@pytest.mark.checklist("predeploy.env-production")
def test_env_production_has_no_placeholders(
    prodcheck_stack: Endpoints, prodcheck_settings: Settings, judge: Judge
) -> None:
    path = Path(prodcheck_stack.extras.get("env_file") or prodcheck_settings.security.env_file)
    judge(check_env_file(path))


# -- host-level (only on the server itself) --------------------------------------------------------
@pytest.fixture(scope="module")
def host(prodcheck_settings: Settings) -> host_checks.Host:
    if not prodcheck_settings.host_checks:
        pytest.skip(
            "host checks run on the server itself: pass --prodcheck-host-checks (else attest)"
        )
    return host_checks.Host()


@pytest.mark.checklist("security.firewall")
def test_firewall_active(host: host_checks.Host, judge: Judge) -> None:
    judge(host_checks.check_firewall(host))


@pytest.mark.checklist("security.fail2ban")
def test_fail2ban_running(host: host_checks.Host, judge: Judge) -> None:
    judge(host_checks.check_fail2ban(host))


# nginx and PostgreSQL (their Debian packages ship stanzas), and the two logs the guide's cron
# jobs append to forever: /var/log/ecommerce_backup.log and /var/log/ssl_renewal.log.
LOGROTATE_SERVICES = ("nginx", "postgresql", "ecommerce_backup", "ssl_renewal")


@pytest.mark.checklist("predeploy.log-rotation")
def test_log_rotation(host: host_checks.Host, judge: Judge) -> None:
    judge(host_checks.check_logrotate(host, LOGROTATE_SERVICES))


@pytest.mark.checklist("security.encryption-at-rest")
def test_encryption_at_rest(host: host_checks.Host, judge: Judge) -> None:
    judge(host_checks.check_encryption_at_rest(host))


@pytest.mark.checklist("security.admin-vpn")
def test_vpn_for_admin_access(host: host_checks.Host, judge: Judge) -> None:
    judge(host_checks.check_vpn(host))


@pytest.mark.checklist("security.user-permissions")
def test_user_accounts(host: host_checks.Host, judge: Judge) -> None:
    judge(host_checks.check_user_accounts(host))
