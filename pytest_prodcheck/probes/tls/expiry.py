"""``tls.cert.expiry``: valid now, with at least N days and 1/3 of its lifetime left.

    >>> check_expiry(scan).observed
    'valid 2026-11-28 → 2027-02-26 (89.9 of 90 days left, 100%)'
    >>> check_expiry(expiring_scan).message
    'renew now: 3.0 days left (< 14 days)'

Lifetimes shrink (90 → 64 → 45 days), so judging on a fixed day count alone is not enough: the
fraction rule (default 1/3, what certbot uses for 90-day certificates) catches a stalled renewal
on short-lived certificates as well.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.tls.scan import CERT_KEY, TlsScan
from pytest_prodcheck.probes.tls.target import Expectations

CHECK_ID = "tls.cert.expiry"


def check_expiry(
    scan: TlsScan, expect: Expectations | None = None, *, now: datetime | None = None
) -> CheckResult:
    expect = expect or Expectations()
    now = now or datetime.now(UTC)
    expected = (
        f"valid now, ≥ {expect.min_days} days and ≥ {expect.min_lifetime_fraction:.0%} "
        "of its lifetime left"
    )
    leaf = scan.leaf
    if leaf is None:
        reason = scan.errors.get(CERT_KEY, "no certificate received")
        return CheckResult.errored(CHECK_ID, reason, expected)
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    lifetime_days = (end - start).total_seconds() / 86400
    left_days = (end - now).total_seconds() / 86400
    fraction = left_days / lifetime_days if lifetime_days > 0 else 0.0
    observed = (
        f"valid {start:%Y-%m-%d} → {end:%Y-%m-%d} "
        f"({left_days:.1f} of {lifetime_days:.0f} days left, {max(fraction, 0):.0%})"
    )
    if now < start:
        return CheckResult.failed(
            CHECK_ID, observed, expected, f"not valid before {start:%Y-%m-%d %H:%M} UTC"
        )
    if left_days <= 0:
        return CheckResult.failed(
            CHECK_ID, observed, expected, f"expired on {end:%Y-%m-%d %H:%M} UTC"
        )
    if left_days < expect.min_days:
        return CheckResult.failed(
            CHECK_ID,
            observed,
            expected,
            f"renew now: {left_days:.1f} days left (< {expect.min_days} days)",
        )
    if fraction < expect.min_lifetime_fraction:
        return CheckResult.failed(
            CHECK_ID,
            observed,
            expected,
            f"renewal overdue: {fraction:.0%} of the lifetime left "
            f"(< {expect.min_lifetime_fraction:.0%}); is the renewal job running?",
        )
    return CheckResult.passed(CHECK_ID, observed, expected)
