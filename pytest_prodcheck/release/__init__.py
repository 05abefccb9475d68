"""The release report: checklist items decided from fresh evidence across runs.

    >>> from pytest_prodcheck.release import AgePolicy, decide_release
    >>> rr = decide_release(records, target="local", now=now, policy=AgePolicy())
    >>> rr.headline
    'INCOMPLETE: 1 critical item lacks fresh evidence: predeploy.disaster-recovery (stale: 40 d > 30 d)'

Modules: :mod:`.baseline` (load baselines), :mod:`.decide` (the decision), :mod:`.model` (the
report as data), :mod:`.service` (from settings: what the plugin and the CLI call),
:mod:`.write` with :mod:`.to_html`, :mod:`.to_markdown` and :mod:`.trends_svg` (the files).
Maximum ages are settings: :mod:`pytest_prodcheck.config.ages`.
"""

from __future__ import annotations

from pytest_prodcheck.config.ages import BUILTIN, AgePolicy, MaxAge, parse_max_age
from pytest_prodcheck.release.baseline import BaselineLimits, Comparison, compare, find_baseline
from pytest_prodcheck.release.decide import PROFILE_ITEMS, choose_anchor, decide_release
from pytest_prodcheck.release.model import RELEASE_STATUSES, ReleaseItem, ReleaseReport

__all__ = [
    "BUILTIN",
    "PROFILE_ITEMS",
    "RELEASE_STATUSES",
    "AgePolicy",
    "BaselineLimits",
    "Comparison",
    "MaxAge",
    "ReleaseItem",
    "ReleaseReport",
    "choose_anchor",
    "compare",
    "decide_release",
    "find_baseline",
    "parse_max_age",
]
