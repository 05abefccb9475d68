"""The starter alert rules shipped with prodcheck, rendered for production or for a fast local stack.

    >>> "alert: BackupTooOld" in render_rules(production=True)
    True
    >>> "for: 0s" in render_rules(production=False)
    True

Production windows are 5 minutes with minute-long pending periods; the embedded stack uses short
windows so that a test can watch an alert fire within seconds.
"""

from __future__ import annotations

from importlib import resources

import jinja2

RULE_NAMES: tuple[str, ...] = (
    "Watchdog",
    "TargetDown",
    "ShopHighErrorRate",
    "ShopHighLatencyP95",
    "BackupMissing",
    "BackupTooOld",
    "CertificateExpiringSoon",
    "PgBouncerPoolSaturated",
)


def render_rules(*, production: bool = True, backup_max_age_hours: int = 26) -> str:
    """The rules file (YAML) for Prometheus's ``rule_files``."""
    text = resources.files(__package__).joinpath("alerts.yml.j2").read_text()
    template = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False).from_string(
        text
    )
    timing = (
        {"window": "5m", "pending": "5m", "pending_short": "2m"}
        if production
        else {"window": "15s", "pending": "5s", "pending_short": "0s"}
    )
    return template.render(
        backup_max_age_s=backup_max_age_hours * 3600,
        backup_max_age_h=backup_max_age_hours,
        **timing,
    )
