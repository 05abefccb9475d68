"""Locust base class for stage shapes (imported only inside the Locust process).

# shape_daily.py
class DailyShape(StagesShape):
    shape = DAILY
"""

from __future__ import annotations

import os
from collections.abc import Callable

from locust import LoadTestShape

from pytest_prodcheck.load.shapes import TIME_SCALE_ENV, StageShape


class StagesShape(LoadTestShape):
    abstract = True
    shape: StageShape

    def __init__(self) -> None:
        init: Callable[[], None] = super().__init__  # locust's own methods carry no annotations
        init()
        scale = float(os.environ.get(TIME_SCALE_ENV, "1") or "1")
        self.active = self.shape.scaled(scale) if scale != 1 else self.shape

    def tick(self) -> tuple[int, float] | None:
        run_time: Callable[[], float] = self.get_run_time
        users = self.active.users_at(run_time())
        if users is None:
            return None  # ends the run: with a shape, -t is ignored
        return users, self.active.spawn_rate
