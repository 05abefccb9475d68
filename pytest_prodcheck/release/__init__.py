"""The release report: checklist items decided from fresh evidence across runs.

    >>> from pytest_prodcheck.release import AgePolicy, decide_release
    >>> rr = decide_release(records, target="local", now=now, policy=AgePolicy())
    >>> rr.headline
    'INCOMPLETE: 1 critical item lacks fresh evidence: predeploy.disaster-recovery (stale: 40 d > 30 d)'

Modules: :mod:`.ages` (maximum ages), :mod:`.baseline` (load baselines), :mod:`.decide` (the
decision), :mod:`.model` (the report as data), :mod:`.service` (from settings). Rendering lives
in :mod:`pytest_prodcheck.report`. Names are imported on first use: ``config`` reads
``[history.max_age]`` through :mod:`.ages` while the checklist still imports ``config``.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BUILTIN": "ages",
    "AgePolicy": "ages",
    "MaxAge": "ages",
    "parse_max_age": "ages",
    "BaselineLimits": "baseline",
    "Comparison": "baseline",
    "compare": "baseline",
    "find_baseline": "baseline",
    "PROFILE_ITEMS": "decide",
    "choose_anchor": "decide",
    "decide_release": "decide",
    "RELEASE_STATUSES": "model",
    "ReleaseItem": "model",
    "ReleaseReport": "model",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
