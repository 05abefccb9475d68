"""``[history]`` settings: where run records go and how old evidence may be.

[history]
enabled = true                  # every run appends a record (default)
dir = "reports/history"         # default: <report_dir>/history
s3 = false                      # true: the [s3] bucket (backups' settings), prefix below
s3_prefix = "prodcheck-history/"
target = "production"           # the history's name for this target (default: host or kind)
lookback_days = 90              # records older than this are not read
trend_runs = 20                 # runs drawn in the trend charts
baseline_p95_increase_pct = 25  # a load run regresses when p95 rises more than this …
baseline_rps_decrease_pct = 20  # … or throughput falls more than this, vs its baseline
baseline_p95_min_increase_ms = 50  # a p95 rise smaller than this is noise, never a regression

[history.max_age]               # item id or section -> "run" | "7d" | "36h" | "attestation"
backups = "14d"
"testing.stress" = "3d"

>>> hs = history_settings({"s3": True, "max_age": {"backups": "14d"}}, "prodcheck.toml")
>>> hs.directory("reports")
PosixPath('reports/history')
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_prodcheck.config.ages import AgePolicy
from pytest_prodcheck.core.errors import ConfigError

__all__ = ["HistorySettings", "history_settings", "history_values"]


@dataclass(frozen=True)
class HistorySettings:
    enabled: bool = True
    dir: str | None = None
    s3: bool = False
    s3_prefix: str = "prodcheck-history/"
    target: str | None = None
    lookback_days: int = 90
    trend_runs: int = 20
    baseline_p95_increase_pct: float = 25.0
    baseline_rps_decrease_pct: float = 20.0
    baseline_p95_min_increase_ms: float = 50.0
    max_age: Mapping[str, object] = field(default_factory=lambda: types.MappingProxyType({}))

    def directory(self, report_dir: str | Path) -> Path:
        return Path(self.dir) if self.dir else Path(report_dir) / "history"

    def policy(self) -> AgePolicy:
        return AgePolicy.from_settings(self.max_age)


def _bad(where: str, key: str, value: object, expected: str) -> ConfigError:
    return ConfigError(f"{where}: [history] {key} = {value!r}: expected {expected}")


def history_settings(raw: Mapping[str, Any], where: str = "config") -> HistorySettings:
    """Validate a ``[history]`` table (unknown keys, types, ranges, max ages) into settings."""
    return HistorySettings(**history_values(raw, where))


def history_values(
    raw: Mapping[str, Any], where: str = "config", base: Path | None = None
) -> dict[str, Any]:
    """The validated keys of a ``[history]`` table (what ``config`` merges layer by layer).

    A relative ``dir`` read from a file (``base``: the file's directory) is relative to it.
    """
    allowed = {f.name: f for f in dataclasses.fields(HistorySettings)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key [history] {key}; allowed: {', '.join(sorted(allowed))}"
            )
        if key in ("enabled", "s3"):
            if not isinstance(value, bool):
                raise _bad(where, key, value, "true or false")
        elif key in ("lookback_days", "trend_runs"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _bad(where, key, value, "a whole number >= 1")
        elif key == "baseline_p95_min_increase_ms":
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise _bad(where, key, value, "milliseconds >= 0, e.g. 50")
            value = float(value)
        elif key.startswith("baseline_"):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise _bad(where, key, value, "a percentage > 0, e.g. 25")
            value = float(value)
        elif key == "max_age":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [history.max_age] must be a table of item = age")
            AgePolicy.from_settings(value, f"{where}: [history.max_age]")  # validate now
            value = types.MappingProxyType(dict(value))
        elif value is not None and not (isinstance(value, str) and value.strip()):
            raise _bad(where, key, value, "a non-empty string")
        elif key == "dir" and value and base is not None and not Path(value).is_absolute():
            value = str(base / value)
        values[key] = value
    return values
