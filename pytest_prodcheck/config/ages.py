"""How old evidence may be and still decide an item of the release report.

    >>> policy = AgePolicy.from_settings({"backups": "14d", "testing.stress": "3d"})
    >>> policy.for_item(by_id("testing.stress")).text
    '3 d'
    >>> policy.for_item(by_id("backups.restore-procedure")).text     # the section's setting
    '14 d'
    >>> policy.for_item(by_id("security.https-only")).text           # built-in: smoke-level
    'this run only'
    >>> policy.for_item(by_id("security.firewall")).text             # manual: the attestation's
    'attestation expiry'

A maximum age is ``"run"`` (only the run the report is for counts), a duration (``"7d"``,
``"36h"``, ``"90m"``, or a number of days), or ``"attestation"`` (manual items: the attestation's
own expiry, ``[checklist] attestation_max_age_days``). Precedence: the team's item setting, the
team's section setting, the built-in item default (:data:`BUILTIN`), then ``"run"`` for automated
and ``"attestation"`` for manual items.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from pytest_prodcheck.checklist_items import ITEMS, SECTIONS, Item, is_known, suggest
from pytest_prodcheck.core.errors import ConfigError

__all__ = ["BUILTIN", "AgePolicy", "MaxAge", "format_age", "format_limit", "parse_max_age"]

AgeKind = Literal["run", "duration", "attestation"]


@dataclass(frozen=True)
class MaxAge:
    kind: AgeKind
    limit: timedelta | None = None
    source: str = "built-in"  # "built-in", "[history.max_age] backups", …

    @property
    def text(self) -> str:
        """``this run only`` / ``7 d`` / ``36 h`` / ``attestation expiry``"""
        if self.kind == "run":
            return "this run only"
        if self.kind == "attestation" or self.limit is None:
            return "attestation expiry"
        return format_limit(self.limit)


def format_limit(limit: timedelta) -> str:
    """``7 d`` / ``36 h`` / ``90 min`` (a limit is printed exactly, unlike an age)."""
    s = int(limit.total_seconds())
    if s % 86400 == 0:
        return f"{s // 86400} d"
    if s % 3600 == 0:
        return f"{s // 3600} h"
    return f"{s // 60} min"


def format_age(age: timedelta) -> str:
    """``40 d`` / ``26 h`` / ``12 min`` / ``now``

    >>> format_age(timedelta(days=40, hours=3)), format_age(timedelta(hours=26))
    ('40 d', '26 h')
    """
    seconds = age.total_seconds()
    if seconds < 60:
        return "now" if seconds >= 0 else "in the future"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(d|h|m|min|days?|hours?)?\s*")


def parse_max_age(value: object, label: str) -> MaxAge:
    """``"run"``, ``"attestation"``, ``"7d"``, ``"36h"``, ``"90m"`` or a number of days."""
    if isinstance(value, str) and value.strip().lower() in ("run", "this run"):
        return MaxAge("run", None, label)
    if isinstance(value, str) and value.strip().lower() == "attestation":
        return MaxAge("attestation", None, label)
    number: float | None = None
    unit = "d"
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value)):
        number, unit = float(m[1]), (m[2] or "d")
    if number is None or number <= 0:
        raise ConfigError(
            f"{label} = {value!r}: expected a maximum age like '7d', '36h', '90m', "
            "'run' (this run only) or 'attestation'"
        )
    scale = {"d": 86400, "h": 3600, "m": 60}[unit[0] if unit != "min" else "m"]
    return MaxAge("duration", timedelta(seconds=number * scale), label)


def _days(n: int) -> MaxAge:
    return MaxAge("duration", timedelta(days=n))


# Built-in defaults (items not listed: automated -> this run only, manual -> attestation expiry)
BUILTIN: Mapping[str, MaxAge] = {
    # load baseline and stress run nightly or weekly, not before every deploy
    "testing.baseline-load": _days(7),
    "predeploy.load-baseline": _days(7),
    "testing.stress": _days(7),
    # the restore drill: monthly
    "backups.restore-procedure": _days(30),
    "testing.backup-restore": _days(30),
    "predeploy.disaster-recovery": _days(30),
    # checks the suite runs outside `-m smoke`, nightly: last night's run counts
    "predeploy.backup-schedule": _days(1),
    "backups.automated": _days(1),
    "backups.s3-storage": _days(1),
    "backups.retention": _days(1),
    "testing.failover": _days(1),
    "testing.monitoring-alerts": _days(1),
}


@dataclass(frozen=True)
class AgePolicy:
    """Team settings (item id or section -> MaxAge) over :data:`BUILTIN`."""

    team: Mapping[str, MaxAge] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls, raw: Mapping[str, object], where: str = "[history.max_age]"
    ) -> AgePolicy:
        """Validate ``[history.max_age]``: keys are item ids or section names."""
        team: dict[str, MaxAge] = {}
        for key, value in raw.items():
            if key not in SECTIONS and not is_known(key):
                raise ConfigError(
                    f"{where}: unknown key {key!r}{suggest(key)}; use a checklist item id "
                    f"(prodcheck checklist) or a section ({', '.join(SECTIONS)})"
                )
            team[key] = parse_max_age(value, f"{where} {key}")
        return cls(team)

    def for_item(self, item: Item) -> MaxAge:
        for found in (self.team.get(item.id), self.team.get(item.section), BUILTIN.get(item.id)):
            if found is not None:
                return found
        return MaxAge("run") if item.automated else MaxAge("attestation")

    def table(self) -> dict[str, MaxAge]:
        """Every item's effective maximum age (for the report's legend)."""
        return {i.id: self.for_item(i) for i in ITEMS}
