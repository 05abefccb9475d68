"""When a certificate is due for renewal: less than a third of its lifetime left.

    >>> d = renewal_decision(info.not_before, info.not_after, now=now)
    >>> d.due, d.fraction_left, d.reason
    (False, 0.93, '83.7 of 90.0 days left (93%); renew below 33% (30.0 days)')

Judged on the fraction of lifetime left, not a fixed day count, so it keeps working as public
certificate lifetimes shrink from 90 to 64 to 45 days (renewal at 30, ~21 and 15 days left).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

RENEW_FRACTION = 1 / 3


@dataclass(frozen=True)
class RenewalDecision:
    due: bool
    remaining_days: float
    lifetime_days: float
    fraction_left: float
    threshold_days: float  # renew once fewer days than this are left
    reason: str


def renewal_decision(
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    now: dt.datetime | None = None,
    fraction: float = RENEW_FRACTION,
) -> RenewalDecision:
    """Decide whether a certificate valid ``not_before``..``not_after`` should be renewed now."""
    now = now or dt.datetime.now(dt.UTC)
    lifetime = max((not_after - not_before).total_seconds(), 1.0)
    remaining = (not_after - now).total_seconds()
    left = remaining / lifetime
    day = 86400.0
    threshold = lifetime * fraction / day
    due = left < fraction
    if remaining <= 0:
        reason = f"expired {-remaining / day:.1f} days ago"
    else:
        reason = (
            f"{remaining / day:.1f} of {lifetime / day:.1f} days left ({left:.0%}); "
            f"renew below {fraction:.0%} ({threshold:.1f} days)"
        )
    return RenewalDecision(
        due=due,
        remaining_days=round(remaining / day, 3),
        lifetime_days=round(lifetime / day, 3),
        fraction_left=round(left, 4),
        threshold_days=round(threshold, 3),
        reason=reason,
    )


__all__ = ["RENEW_FRACTION", "RenewalDecision", "renewal_decision"]
