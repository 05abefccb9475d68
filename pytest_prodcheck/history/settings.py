"""``[history]`` settings and the store they describe.

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

[history.max_age]               # item id or section -> "run" | "7d" | "36h" | "attestation"
backups = "14d"
"testing.stress" = "3d"

>>> hs = history_settings({"s3": True, "max_age": {"backups": "14d"}}, "prodcheck.toml")
>>> store = open_store(hs, s3_config, report_dir="reports")   # S3HistoryStore or DirStore
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.release.ages import AgePolicy

if TYPE_CHECKING:  # config.py imports this module: keep its imports light
    from pytest_prodcheck.backup.s3 import S3Config
    from pytest_prodcheck.history.store import HistoryStore
    from pytest_prodcheck.release.baseline import BaselineLimits

__all__ = ["HistorySettings", "history_settings", "history_values", "open_store"]


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
    max_age: Mapping[str, object] = field(default_factory=lambda: types.MappingProxyType({}))

    def directory(self, report_dir: str | Path) -> Path:
        return Path(self.dir) if self.dir else Path(report_dir) / "history"

    def policy(self) -> AgePolicy:
        return AgePolicy.from_settings(self.max_age)

    def limits(self) -> BaselineLimits:
        from pytest_prodcheck.release.baseline import BaselineLimits

        return BaselineLimits(self.baseline_p95_increase_pct, self.baseline_rps_decrease_pct)


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


def open_store(
    hs: HistorySettings, s3: S3Config | None, report_dir: str | Path = "reports"
) -> HistoryStore:
    """The directory store, or the S3 store (spooling into ``<dir>/pending``) when ``s3``."""
    from pytest_prodcheck.history.store import DirStore

    directory = hs.directory(report_dir)
    if not hs.s3:
        return DirStore(directory)
    if s3 is None or not s3.bucket:
        raise ConfigError(
            "[history] s3 = true but no S3 bucket is configured: set [s3] bucket or export "
            "AWS_BACKUP_BUCKET (or set [history] s3 = false)"
        )
    from pytest_prodcheck.history.s3store import S3HistoryStore

    return S3HistoryStore(s3, prefix=hs.s3_prefix, spool=directory / "pending")
