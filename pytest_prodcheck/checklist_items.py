"""The guide's Production Checklist: 51 items in six sections, with stable ids.

    >>> from pytest_prodcheck.checklist_items import ITEMS, by_id
    >>> len(ITEMS), by_id("security.https-only").title
    (51, 'Enable HTTPS only')

``automated`` items are decided by the tests linked to them with ``@pytest.mark.checklist(id)``;
manual items by an attestation or a waiver. Ids are a contract: never rename one.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

Severity = Literal["critical", "high", "medium", "low"]
SECTIONS: tuple[str, ...] = (
    "predeploy",
    "security",
    "monitoring",
    "performance",
    "backups",
    "testing",
)
SECTION_TITLES: dict[str, str] = {
    "predeploy": "Pre-Deployment",
    "security": "Security",
    "monitoring": "Monitoring",
    "performance": "Performance",
    "backups": "Backups",
    "testing": "Testing",
}


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    severity: Severity
    automated: bool
    rationale: str

    @property
    def section(self) -> str:
        return self.id.split(".", 1)[0]


def _i(id: str, title: str, severity: Severity, automated: bool, rationale: str) -> Item:
    return Item(id, title, severity, automated, rationale)


ITEMS: tuple[Item, ...] = (
    # --- Pre-Deployment ------------------------------------------------------------------------
    _i(
        "predeploy.env-production",
        "Configure environment variables in .env.production",
        "high",
        True,
        "A missing or placeholder setting in production fails at the worst moment.",
    ),
    _i(
        "predeploy.strong-passwords",
        "Set strong passwords for all services",
        "critical",
        True,
        "Default or weak service passwords are the first thing scanners try.",
    ),
    _i(
        "predeploy.dns",
        "Configure domain names in DNS",
        "high",
        True,
        "Every public name (apex, www, api, monitoring) must resolve to the server.",
    ),
    _i(
        "predeploy.ssl-certificates",
        "Setup SSL certificates",
        "critical",
        True,
        "A valid, trusted certificate covering every name, far enough from expiry.",
    ),
    _i(
        "predeploy.backup-schedule",
        "Configure backup schedule",
        "critical",
        True,
        "Backups that are not scheduled do not happen.",
    ),
    _i(
        "predeploy.load-baseline",
        "Run load tests to establish baseline",
        "high",
        True,
        "Without a baseline there is nothing to compare the next release with.",
    ),
    _i(
        "predeploy.security-headers",
        "Review security headers in Nginx",
        "high",
        True,
        "HSTS, X-Frame-Options, X-Content-Type-Options and CSP on every path, not just /.",
    ),
    _i(
        "predeploy.monitoring-alerts",
        "Setup monitoring alerts",
        "high",
        True,
        "Someone must be told when the site breaks.",
    ),
    _i(
        "predeploy.log-rotation",
        "Configure log rotation",
        "medium",
        False,
        "Unrotated logs fill the disk and take the site down.",
    ),
    _i(
        "predeploy.disaster-recovery",
        "Test disaster recovery procedures",
        "critical",
        True,
        "A restore drill proves the backups bring the data back.",
    ),
    # --- Security --------------------------------------------------------------------------------
    _i(
        "security.default-passwords",
        "Change default passwords",
        "critical",
        True,
        "postgres/postgres and friends must be refused.",
    ),
    _i(
        "security.firewall",
        "Enable firewall (UFW/iptables)",
        "critical",
        False,
        "Only 80/443 (and SSH) should be reachable from outside.",
    ),
    _i(
        "security.fail2ban",
        "Configure fail2ban",
        "medium",
        False,
        "Brute-force attempts should be banned automatically.",
    ),
    _i(
        "security.https-only",
        "Enable HTTPS only",
        "critical",
        True,
        "Plain HTTP only redirects to HTTPS; TLS 1.2/1.3 with modern ciphers.",
    ),
    _i(
        "security.waf",
        "Set up WAF rules",
        "medium",
        False,
        "Obvious attack patterns should be blocked before the app.",
    ),
    _i(
        "security.rate-limiting",
        "Configure rate limiting",
        "high",
        True,
        "10 r/s general and 30 r/s API, as the guide configures.",
    ),
    _i(
        "security.cors",
        "Review CORS settings",
        "high",
        True,
        "An arbitrary Origin must not be reflected, never with credentials.",
    ),
    _i(
        "security.encryption-at-rest",
        "Enable database encryption at rest",
        "high",
        False,
        "Disks and snapshots leak; encryption at rest protects them.",
    ),
    _i(
        "security.admin-vpn",
        "Setup VPN for admin access",
        "medium",
        False,
        "Admin and database ports must not be open to the internet.",
    ),
    _i(
        "security.user-permissions",
        "Audit user permissions",
        "high",
        True,
        "The app role is not a superuser and owns only what it needs.",
    ),
    # --- Monitoring ------------------------------------------------------------------------------
    _i(
        "monitoring.prometheus",
        "Configure Prometheus scraping",
        "high",
        True,
        "The app, nginx and PgBouncer expose metrics that are scraped.",
    ),
    _i(
        "monitoring.grafana-dashboards",
        "Import Grafana dashboards",
        "medium",
        False,
        "Dashboards make an incident readable.",
    ),
    _i(
        "monitoring.alert-rules",
        "Setup alert rules",
        "high",
        True,
        "Error rate, latency, backup age, certificate expiry, pool saturation.",
    ),
    _i(
        "monitoring.notification-channels",
        "Configure notification channels (email, Slack)",
        "high",
        False,
        "Alerts must reach a human.",
    ),
    _i(
        "monitoring.apm",
        "Enable APM (Application Performance Monitoring)",
        "medium",
        False,
        "Traces show where the time goes.",
    ),
    _i(
        "monitoring.log-aggregation",
        "Setup log aggregation",
        "medium",
        False,
        "Logs from every service in one searchable place.",
    ),
    _i(
        "monitoring.uptime",
        "Configure uptime monitoring",
        "high",
        True,
        "An outside check notices when the whole site is down.",
    ),
    _i(
        "monitoring.error-tracking",
        "Setup error tracking (Sentry)",
        "medium",
        False,
        "Exceptions are collected and grouped.",
    ),
    # --- Performance -----------------------------------------------------------------------------
    _i(
        "performance.pgbouncer",
        "Enable PgBouncer connection pooling",
        "high",
        True,
        "Transaction pooling that really caps server connections (guide's pool sizes).",
    ),
    _i(
        "performance.redis-cache",
        "Configure Redis caching",
        "medium",
        False,
        "Hot reads served from cache.",
    ),
    _i(
        "performance.cdn",
        "Setup CDN for static files",
        "low",
        False,
        "Static files served close to users.",
    ),
    _i(
        "performance.gzip",
        "Enable Gzip compression",
        "medium",
        True,
        "Compressible responses are gzip-encoded when the client asks.",
    ),
    _i(
        "performance.db-indexes",
        "Optimize database indexes",
        "medium",
        True,
        "Large tables are not sequentially scanned for lack of an index.",
    ),
    _i(
        "performance.celery-workers",
        "Configure Celery workers",
        "low",
        False,
        "Background work runs outside the request path.",
    ),
    _i(
        "performance.read-replicas",
        "Setup read replicas (if needed)",
        "low",
        False,
        "Read scaling when one primary is not enough.",
    ),
    _i(
        "performance.query-caching",
        "Enable query caching",
        "low",
        False,
        "Repeated expensive queries are cached.",
    ),
    # --- Backups ---------------------------------------------------------------------------------
    _i(
        "backups.test-script",
        "Test backup script",
        "critical",
        True,
        "The backup tool runs and produces a complete, checksummed dump.",
    ),
    _i(
        "backups.automated",
        "Configure automated backups",
        "critical",
        True,
        "A schedule is installed and the latest backup is recent.",
    ),
    _i(
        "backups.s3-storage",
        "Setup S3 backup storage",
        "high",
        True,
        "An off-site copy exists and is identical to the local one.",
    ),
    _i(
        "backups.restore-procedure",
        "Test restore procedure",
        "critical",
        True,
        "A restore into a scratch database reproduces the data.",
    ),
    _i(
        "backups.retention",
        "Configure backup retention",
        "medium",
        True,
        "Old backups are pruned (30 days) without ever deleting the newest good one.",
    ),
    _i(
        "backups.monitoring",
        "Setup backup monitoring",
        "high",
        True,
        "The age of the latest backup is watched.",
    ),
    _i(
        "backups.recovery-docs",
        "Document recovery procedures",
        "medium",
        False,
        "People under stress follow a written procedure.",
    ),
    # --- Testing ---------------------------------------------------------------------------------
    _i(
        "testing.smoke",
        "Run smoke tests",
        "high",
        True,
        "10 users for 2 minutes meet the thresholds.",
    ),
    _i(
        "testing.baseline-load",
        "Run baseline load tests",
        "high",
        True,
        "50 users for 10 minutes meet the thresholds.",
    ),
    _i(
        "testing.stress",
        "Run stress tests",
        "medium",
        True,
        "200 users for 15 minutes: where does it break?",
    ),
    _i(
        "testing.security-audit",
        "Perform security audit",
        "high",
        True,
        "Headers, CORS, cookies, exposed ports, secrets.",
    ),
    _i(
        "testing.ssl-configuration",
        "Test SSL configuration",
        "critical",
        True,
        "Protocols, ciphers, chain, names, expiry, key strength.",
    ),
    _i(
        "testing.backup-restore",
        "Verify backup/restore",
        "critical",
        True,
        "The latest backup verifies and restores (drill).",
    ),
    _i(
        "testing.failover",
        "Test failover scenarios",
        "high",
        True,
        "PgBouncer restarted mid-traffic loses no committed transaction.",
    ),
    _i(
        "testing.monitoring-alerts",
        "Validate monitoring alerts",
        "medium",
        True,
        "Driving the app into an alerting condition fires the alert.",
    ),
)

_BY_ID = {item.id: item for item in ITEMS}


def by_id(item_id: str) -> Item:
    """Return the item with this id; ``KeyError`` if there is none."""
    return _BY_ID[item_id]


def is_known(item_id: str) -> bool:
    return item_id in _BY_ID


def suggest(item_id: str) -> str:
    """`` (did you mean 'x'?)`` for a misspelt id, else ``""``."""
    close = difflib.get_close_matches(item_id, [i.id for i in ITEMS], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
