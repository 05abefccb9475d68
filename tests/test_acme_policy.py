"""Renewal policy: below a third of the lifetime left, whatever the lifetime."""

from __future__ import annotations

import datetime as dt

import pytest

from pytest_prodcheck.acme.policy import renewal_decision

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize("days", [90, 64, 45, 6, 1826])
def test_due_exactly_below_one_third(days: int) -> None:
    end = START + dt.timedelta(days=days)
    third = dt.timedelta(days=days) / 3
    assert not renewal_decision(START, end, now=end - third - dt.timedelta(minutes=1)).due
    assert renewal_decision(START, end, now=end - third + dt.timedelta(minutes=1)).due


def test_reason_and_numbers() -> None:
    end = START + dt.timedelta(days=90)
    d = renewal_decision(START, end, now=START + dt.timedelta(days=10))
    assert (d.due, d.remaining_days, d.lifetime_days, d.threshold_days) == (False, 80.0, 90.0, 30.0)
    assert d.reason == "80.0 of 90.0 days left (89%); renew below 33% (30.0 days)"


def test_expired_is_due() -> None:
    end = START + dt.timedelta(days=90)
    d = renewal_decision(START, end, now=end + dt.timedelta(days=2))
    assert d.due and d.reason == "expired 2.0 days ago"
