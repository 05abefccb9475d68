"""The table of the security checks: id → callable → group → checklist items.

    >>> from pytest_prodcheck.probes.security_checks import SECURITY_CHECKS, SecurityInputs
    >>> SECURITY_CHECKS.ids()[:2]
    ('security.https-only', 'security.cors')
    >>> inputs = SecurityInputs(endpoints, settings, site=SiteTarget.from_endpoints(endpoints, settings))
    >>> SECURITY_CHECKS.get("security.cors").run(inputs).status
    'pass'

``suites/test_security.py`` is one test per row (``test_check[security.cors]`` …), with the row's
markers and checklist items. Groups name what a check reads:

- ``site``: the web site over HTTPS (the suite hands it in once it has answered);
- ``waf``: the site too, but only when ``[security] waf = true`` declares a WAF — the ``n/a``
  answer otherwise is recorded and the test skipped (decide by attestation);
- ``ports``: TCP to the public address; ``files``: the secrets file;
- ``host``: the server itself, only with ``--prodcheck-host-checks`` (else every ``host`` row
  raises :class:`~pytest_prodcheck.stack.endpoints.MissingEndpoint`: the test skips).

The database checks of the security area (default and weak passwords, the app role) read the
database and live in :mod:`~pytest_prodcheck.probes.pooling_checks`.

Adding a check: write ``check_x`` in :mod:`~pytest_prodcheck.probes.security` (or ``host``), add
one row here, and a test showing it fail on a target wrong in exactly that way.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from pytest_prodcheck.config import Settings
from pytest_prodcheck.core.checks import CheckSpec, CheckTable
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes import host as host_checks
from pytest_prodcheck.probes import security
from pytest_prodcheck.probes.envfile import check_env_file
from pytest_prodcheck.probes.tls.target import SiteTarget
from pytest_prodcheck.stack.endpoints import Endpoints, MissingEndpoint

__all__ = [
    "LOGROTATE_SERVICES",
    "NA_SKIPS",
    "SECURITY_CHECKS",
    "SITE_GROUPS",
    "SecurityCheck",
    "SecurityInputs",
]

#: groups whose checks read the web site
SITE_GROUPS = frozenset({"site", "waf"})
#: groups whose ``n/a`` answer means "not declared here": recorded, and the test skipped
NA_SKIPS = frozenset({"waf"})

# nginx and PostgreSQL (their Debian packages ship stanzas), and the two logs the guide's cron
# jobs append to forever: /var/log/ecommerce_backup.log and /var/log/ssl_renewal.log.
LOGROTATE_SERVICES = ("nginx", "postgresql", "ecommerce_backup", "ssl_renewal")


class SecurityInputs:
    """The target, its settings and (for the ``site`` groups) its web site."""

    def __init__(
        self, stack: Endpoints, settings: Settings, site: SiteTarget | None = None
    ) -> None:
        self.stack = stack
        self.settings = settings
        self._site = site

    @property
    def embedded(self) -> bool:
        return self.stack.target in ("local", "docker")

    @property
    def site(self) -> SiteTarget:
        if self._site is None:
            self._site = SiteTarget.from_endpoints(self.stack, self.settings)
        return self._site

    def cookie_requests(self) -> list[security.CookieRequest]:
        """``GET /``; on the embedded shop also register a throwaway user and log in."""
        requests = [security.CookieRequest("GET", "/")]
        if self.embedded:
            email = f"audit-{secrets.token_hex(4)}@example.test"
            password = secrets.token_urlsafe(12)
            body = json.dumps({"email": email, "password": password, "name": "Audit"}).encode()
            creds = json.dumps({"email": email, "password": password}).encode()
            json_header = (("Content-Type", "application/json"),)
            requests += [
                security.CookieRequest("POST", "/api/auth/register", body, json_header),
                security.CookieRequest("POST", "/api/auth/login", creds, json_header),
            ]
        return requests

    def public_address(self) -> str:
        """``[security] public_address``; on the embedded stack the address nginx serves on."""
        public = self.settings.security.public_address
        if public is None and self.embedded:
            public = next(iter(self.stack.resolve_map().values()), None)
        if not public:
            raise MissingEndpoint(
                "no public address to probe: set [security] public_address in prodcheck.toml"
            )
        return str(public)

    def database_ports(self) -> dict[str, int]:
        """The PostgreSQL and PgBouncer ports the target's DSNs name."""
        dsns = {"postgres": self.stack.postgres_dsn, "pgbouncer": self.stack.pgbouncer_dsn}
        return {name: urlsplit(dsn).port or 5432 for name, dsn in dsns.items() if dsn}

    @property
    def env_file(self) -> Path:
        return Path(self.stack.extras.get("env_file") or self.settings.security.env_file)

    @property
    def host(self) -> host_checks.Host:
        """The machine the suite runs on (MissingEndpoint without ``--prodcheck-host-checks``)."""
        if not self.settings.host_checks:
            raise MissingEndpoint(
                "host checks run on the server itself: pass --prodcheck-host-checks (else attest)"
            )
        return host_checks.Host()


SecurityCheck = CheckSpec[SecurityInputs]

_SMOKE = ("security", "smoke")
_SEC = ("security",)
_AUDIT = "testing.security-audit"


def _ports(i: SecurityInputs) -> CheckResult:
    address = i.public_address()
    return security.check_ports_closed(address, i.database_ports())


def _rows() -> list[SecurityCheck]:
    return [
        CheckSpec("security.https-only", lambda i: security.check_https_only(i.site), "site",
                  ("security.https-only",), _SMOKE, "HTTPS only on every name"),
        CheckSpec("security.cors", lambda i: security.check_cors(i.site), "site",
                  ("security.cors", _AUDIT), _SMOKE, "CORS does not reflect foreign origins"),
        # logs in (registering a throwaway user on the embedded shop) and judges the cookies set
        CheckSpec("security.cookies",
                  lambda i: security.check_cookies(i.site, i.cookie_requests()), "site",
                  (_AUDIT,), _SMOKE, "session cookies are Secure, HttpOnly, SameSite"),
        CheckSpec("security.monitoring-protected",
                  lambda i: security.check_monitoring_protected(i.site, i.stack.monitoring),
                  "site", (_AUDIT,), _SMOKE, "the monitoring name is not open"),
        CheckSpec("security.admin-ports", _ports, "ports", (_AUDIT,), _SMOKE,
                  "database ports not reachable on the public address"),
        CheckSpec("security.waf",
                  lambda i: security.check_waf(i.site, i.settings.security.waf), "waf",
                  ("security.waf",), _SEC, "a declared WAF blocks obvious attacks"),
        CheckSpec("security.env-file", lambda i: check_env_file(i.env_file), "files",
                  ("predeploy.env-production",), _SMOKE,
                  ".env.production has no placeholders and is private"),
        CheckSpec("security.firewall", lambda i: host_checks.check_firewall(i.host), "host",
                  ("security.firewall",), _SEC, "a firewall drops unsolicited input"),
        CheckSpec("security.fail2ban", lambda i: host_checks.check_fail2ban(i.host), "host",
                  ("security.fail2ban",), _SEC, "fail2ban is running"),
        CheckSpec("predeploy.log-rotation",
                  lambda i: host_checks.check_logrotate(i.host, LOGROTATE_SERVICES), "host",
                  ("predeploy.log-rotation",), _SEC, "logs are rotated"),
        CheckSpec("security.encryption-at-rest",
                  lambda i: host_checks.check_encryption_at_rest(i.host), "host",
                  ("security.encryption-at-rest",), _SEC, "the database is encrypted at rest"),
        CheckSpec("security.admin-vpn", lambda i: host_checks.check_vpn(i.host), "host",
                  ("security.admin-vpn",), _SEC, "admin access over a VPN"),
        CheckSpec("security.user-accounts", lambda i: host_checks.check_user_accounts(i.host),
                  "host", ("security.user-permissions",), _SEC, "no stray login accounts"),
    ]  # fmt: skip


SECURITY_CHECKS: CheckTable[SecurityInputs] = CheckTable("security", _rows())
