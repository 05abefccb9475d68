"""Cron expressions: validated with a message naming the bad field, and how far apart runs are.

    >>> validate_schedule("0  */6 * * *")          # normalised: single spaces
    '0 */6 * * *'
    >>> max_gap_hours("0 2 * * *"), max_gap_hours("@hourly"), max_gap_hours("0 2 * * 1-5")
    (24.0, 1.0, 72.0)
    >>> validate_schedule("0 25 * * *")
    Traceback (most recent call last):
    ...
    pytest_prodcheck.core.errors.ConfigError: cron hour 25 is out of range 0-23

Five fields (minute hour day-of-month month day-of-week) with lists, ranges, steps and the
names ``jan``…``dec`` / ``sun``…``sat``, or a macro (``@daily``, ``@hourly`` …; ``@reboot`` is
refused: it is not a schedule). Day of month and day of week combine as cron does: either one
matching is enough when both are restricted.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from pytest_prodcheck.core.errors import ConfigError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {d: i for i, d in enumerate(_DAYS)}),
)


def _parse_field(text: str, label: str, lo: int, hi: int, names: dict[str, int]) -> set[int]:
    def num(tok: str) -> int:
        tok_l = tok.lower()
        if tok_l in names:
            return names[tok_l]
        if not tok.isdigit():
            raise ConfigError(
                f"cron {label} {tok!r} is not a number"
                + (f" or name ({', '.join(names)})" if names else "")
            )
        value = int(tok)
        if not lo <= value <= hi:
            raise ConfigError(f"cron {label} {value} is out of range {lo}-{hi}")
        return value

    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ConfigError(f"cron {label} {text!r} has an empty list item")
        base, _, step_s = item.partition("/")
        step = 1
        if step_s:
            if not step_s.isdigit() or int(step_s) < 1:
                raise ConfigError(f"cron {label} step {step_s!r} must be a whole number >= 1")
            step = int(step_s)
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = num(a), num(b)
            if start > end:
                raise ConfigError(f"cron {label} range {base!r} runs backwards")
        else:
            start = num(base)
            end = hi if step_s else start
        values.update(range(start, end + 1, step))
    if label == "day of week" and 7 in values:
        values.discard(7)
        values.add(0)
    return values


def _expand(expr: str) -> tuple[list[set[int]], list[str]]:
    text = expr.strip()
    text = MACROS.get(text.lower(), text)
    if text.lower() == "@reboot":
        raise ConfigError("cron @reboot is not a schedule: use a time such as '0 2 * * *'")
    parts = text.split()
    if len(parts) != 5:
        raise ConfigError(
            f"cron expression {expr!r} has {len(parts)} fields, needs 5 "
            "(minute hour day-of-month month day-of-week), e.g. '0 2 * * *'"
        )
    sets = [_parse_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)]
    return sets, parts


def validate_schedule(expr: str) -> str:
    """Return ``expr`` normalised (single spaces), or raise ConfigError naming the bad field."""
    if not isinstance(expr, str) or not expr.strip():
        raise ConfigError("empty cron expression: use e.g. '0 2 * * *' (daily at 02:00)")
    if any(c in expr for c in "\n\r%"):
        raise ConfigError(f"cron expression {expr!r} contains a newline or %: not allowed")
    _expand(expr)
    stripped = expr.strip()
    return stripped if stripped.startswith("@") else " ".join(stripped.split())


def max_gap_hours(expr: str, start: date | None = None, days: int = 400) -> float:
    """The longest time between two runs of ``expr`` over ``days`` days (cron's dom/dow rule)."""
    (minutes, hours, doms, months, dows), parts = _expand(expr)
    dom_star, dow_star = parts[2] == "*", parts[4] == "*"
    day0 = start or date(2025, 1, 1)
    runs: list[int] = []  # minutes since day0
    mins, hrs = sorted(minutes), sorted(hours)
    for d in range(days):
        day = day0 + timedelta(days=d)
        if day.month not in months:
            continue
        dom_ok, dow_ok = day.day in doms, (day.isoweekday() % 7) in dows
        ok = (dom_ok and dow_ok) if (dom_star or dow_star) else (dom_ok or dow_ok)
        if not ok:
            continue
        runs.extend(d * 1440 + h * 60 + m for h in hrs for m in mins)
    if len(runs) < 2:
        return float("inf")
    return max(b - a for a, b in itertools.pairwise(runs)) / 60
