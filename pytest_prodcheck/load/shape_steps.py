"""Stress steps: ``locust -f locustfile.py,shape_steps.py`` with ``PRODCHECK_SHAPE_STAGES`` set.

``PRODCHECK_SHAPE_STAGES`` is JSON ``{"stages": [[end_s, users], …], "spawn_rate": r}`` (the
runner writes it from ``[load] stress_steps``; see :func:`..load.shapes.steps_shape`).
"""

from __future__ import annotations

import json
import os

from pytest_prodcheck.load._shape_base import StagesShape
from pytest_prodcheck.load.shapes import STAGES_ENV, StageShape


def _from_env() -> StageShape:
    data = json.loads(os.environ.get(STAGES_ENV) or '{"stages": [[1, 1]], "spawn_rate": 1}')
    stages = tuple((float(end), int(users)) for end, users in data["stages"])
    return StageShape("steps", stages, float(data["spawn_rate"]))


class StepsShape(StagesShape):
    shape = _from_env()
