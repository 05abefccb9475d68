"""Load baselines: the run a target's later runs of the same profile are compared with.

    >>> base = find_baseline(records, "shop.example.com", "baseline", before=current.finished_utc)
    >>> cmp = compare(current, base.digest, BaselineLimits())
    >>> cmp.lines[0], cmp.regressed
    ('p95 412 ms vs baseline 305 ms (+35 %)', True)

The baseline of a (target, profile) is the newest record that names the profile in
``baseline_profiles`` (``prodcheck load PROFILE --record``); without one, the newest earlier run
of that profile that passed its thresholds. Runs with a different user count or traffic shape
are not compared (nothing fair to say). Regression: p95 up more than ``p95_increase_pct``
(default 25 %) and by more than ``p95_min_increase_ms`` (default 50 ms: 12 → 16 ms is +33 % of
noise, not a regression), or throughput down more than ``rps_decrease_pct`` (default 20 %).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pytest_prodcheck.config.history import HistorySettings
from pytest_prodcheck.history.records import HistoryRecord, LoadDigest

__all__ = ["Baseline", "BaselineLimits", "Comparison", "compare", "find_baseline"]


@dataclass(frozen=True)
class BaselineLimits:
    p95_increase_pct: float = 25.0
    rps_decrease_pct: float = 20.0
    p95_min_increase_ms: float = 50.0

    @classmethod
    def from_settings(cls, hs: HistorySettings) -> BaselineLimits:
        """``[history] baseline_p95_increase_pct`` / ``baseline_rps_decrease_pct`` /
        ``baseline_p95_min_increase_ms``."""
        return cls(
            hs.baseline_p95_increase_pct,
            hs.baseline_rps_decrease_pct,
            hs.baseline_p95_min_increase_ms,
        )


@dataclass(frozen=True)
class Baseline:
    digest: LoadDigest
    record: HistoryRecord
    explicit: bool  # recorded with --record (else: the latest passing run of the profile)

    @property
    def describe(self) -> str:
        how = "recorded baseline" if self.explicit else "latest passing run"
        return f"{how} {self.record.run_id} ({self.digest.finished_utc:%Y-%m-%d %H:%M} UTC)"


@dataclass(frozen=True)
class Comparison:
    profile: str
    baseline: Baseline | None
    lines: tuple[str, ...]
    regressed: bool
    comparable: bool

    @property
    def line(self) -> str:
        """All comparison lines in one: ``p95 412 ms vs baseline 305 ms (+35 %); …``"""
        return "; ".join(self.lines)


def _digest(record: HistoryRecord, profile: str) -> LoadDigest | None:
    """The record's last valid run of ``profile`` (shapes excluded: a shape is its own profile)."""
    found = [d for d in record.load if d.name == profile and d.valid]
    return found[-1] if found else None


def find_baseline(
    records: Iterable[HistoryRecord],
    target: str,
    profile: str,
    *,
    before: datetime | None = None,
    exclude_run: str | None = None,
) -> Baseline | None:
    """The baseline of ``profile`` on ``target`` as of ``before`` (see the module docstring)."""
    explicit: Baseline | None = None
    passing: Baseline | None = None
    for rec in sorted(records, key=lambda r: r.finished_utc):
        if rec.target != target or rec.run_id == exclude_run:
            continue
        if before is not None and rec.finished_utc > before:
            continue
        d = _digest(rec, profile)
        if d is None:
            continue
        if profile in rec.baseline_profiles:
            explicit = Baseline(d, rec, True)
        elif d.ok:
            passing = Baseline(d, rec, False)
    return explicit or passing


def _pct(now: float, then: float) -> float:
    return (now - then) / then * 100.0


def _ms(v: float) -> str:
    return f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"


def compare(current: LoadDigest, baseline: Baseline | None, limits: BaselineLimits) -> Comparison:
    """Compare ``current`` with ``baseline``; ``regressed`` when a limit is exceeded."""
    if baseline is None:
        return Comparison(
            current.name,
            None,
            (f"no baseline yet (record one: prodcheck load {current.profile} --record)",),
            False,
            False,
        )
    base = baseline.digest
    if (current.users, current.shape) != (base.users, base.shape):
        why = f"{current.users} users vs {base.users}" if current.users != base.users else "shape"
        return Comparison(
            current.name,
            baseline,
            (f"not compared with the baseline ({why} differ)",),
            False,
            False,
        )
    lines: list[str] = []
    regressed = False
    if current.p95_ms is not None and base.p95_ms:
        change = _pct(current.p95_ms, base.p95_ms)
        over = change > limits.p95_increase_pct
        bad = over and current.p95_ms - base.p95_ms > limits.p95_min_increase_ms
        regressed |= bad
        note = ""
        if bad:
            note = f" > +{limits.p95_increase_pct:g} % allowed"
        elif over:
            note = f" (within the {limits.p95_min_increase_ms:g} ms noise floor)"
        lines.append(
            f"p95 {_ms(current.p95_ms)} vs baseline {_ms(base.p95_ms)} ({change:+.0f} %)" + note
        )
    if current.rps is not None and base.rps:
        change = _pct(current.rps, base.rps)
        bad = -change > limits.rps_decrease_pct
        regressed |= bad
        lines.append(
            f"throughput {current.rps:.1f} req/s vs baseline {base.rps:.1f} req/s "
            f"({change:+.0f} %)".replace("(-", "(−")
            + (f" < −{limits.rps_decrease_pct:g} % allowed" if bad else "")
        )
    compared = bool(lines)
    if not compared:
        lines.append("not compared: the baseline has no p95 or throughput")
    return Comparison(current.name, baseline, tuple(lines), regressed, compared)
