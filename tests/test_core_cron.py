"""core/cron.py: cron expressions validated field by field, and the longest gap between runs."""

from __future__ import annotations

import pytest

from pytest_prodcheck.core.cron import MACROS, max_gap_hours, validate_schedule
from pytest_prodcheck.core.errors import ConfigError


@pytest.mark.parametrize(
    "expr",
    [
        "0 2 * * *",
        "0 * * * *",
        "0 */6 * * *",
        "*/15 1-5 1,15 jan-jun mon-fri",
        "@daily",
        "30 3 * * 7",
        "0 0 1 * *",
    ],
)
def test_valid_expressions(expr: str):
    assert validate_schedule(expr)


@pytest.mark.parametrize(
    ("expr", "match"),
    [
        ("", "empty cron expression"),
        ("0 2 * *", "has 4 fields, needs 5"),
        ("60 2 * * *", "minute 60 is out of range 0-59"),
        ("0 24 * * *", "hour 24 is out of range"),
        ("0 2 0 * *", "day of month 0 is out of range"),
        ("0 2 * 13 *", "month 13 is out of range"),
        ("0 2 * * 8", "day of week 8 is out of range"),
        ("0 */0 * * *", "step '0' must be"),
        ("0 5-2 * * *", "runs backwards"),
        ("0 two * * *", "is not a number"),
        ("@reboot", "not a schedule"),
        ("0 2 * * *\n* * * * * rm -rf /", "newline"),
    ],
)
def test_invalid_expressions(expr: str, match: str):
    with pytest.raises(ConfigError, match=match):
        validate_schedule(expr)


def test_max_gap():
    assert max_gap_hours("0 2 * * *") == 24
    assert max_gap_hours("0 * * * *") == 1
    assert max_gap_hours("0 */6 * * *") == 6
    assert max_gap_hours("0 2 * * 0") == 168
    assert max_gap_hours("0 2 * * 1-5") == 72  # Fri 02:00 -> Mon 02:00
    assert max_gap_hours("0 0 1 * *") >= 28 * 24


def test_macros_and_dom_dow_rule() -> None:
    assert MACROS["@daily"] == "0 0 * * *"
    assert max_gap_hours("@daily") == max_gap_hours("@midnight") == 24
    assert max_gap_hours("@weekly") == 168
    assert validate_schedule("  0   2 * * * ") == "0 2 * * *"
    assert validate_schedule("@daily") == "@daily"
    # both day fields restricted: either matching is enough (the 1st OR every Monday)
    assert max_gap_hours("0 0 1 * mon") <= 168 < max_gap_hours("0 0 1 * *")
    assert max_gap_hours("0 0 30 2 *") == float("inf")  # never runs: no gap to speak of
