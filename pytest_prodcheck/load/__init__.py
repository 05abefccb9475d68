"""Load testing with Locust: profiles, shapes, a subprocess runner, exact thresholds.

    >>> from pytest_prodcheck.load import plan_load, execute
    >>> plan = plan_load(settings, "smoke", host="http://127.0.0.1:8000")  # doctest: +SKIP
    >>> outcome = execute(plan)  # doctest: +SKIP

Nothing here imports Locust: it runs in a subprocess (``runner.py``). ``locustfile.py``,
``shape_*.py``, ``_shape_base.py`` and ``_hook.py`` are loaded by Locust only.
"""

from pytest_prodcheck.load.api import (
    LoadOutcome,
    LoadPlan,
    execute,
    plan_load,
    target_from_endpoints,
)
from pytest_prodcheck.load.profiles import PROFILES, Profile, get_profile
from pytest_prodcheck.load.shapes import SHAPES, StageShape, get_shape

__all__ = [
    "PROFILES",
    "SHAPES",
    "LoadOutcome",
    "LoadPlan",
    "Profile",
    "StageShape",
    "execute",
    "get_profile",
    "get_shape",
    "plan_load",
    "target_from_endpoints",
]
