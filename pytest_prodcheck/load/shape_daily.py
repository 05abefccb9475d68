"""Daily traffic shape: ``locust -f locustfile.py,shape_daily.py --headless`` (6 min, peak 100)."""

from __future__ import annotations

from pytest_prodcheck.load._shape_base import StagesShape
from pytest_prodcheck.load.shapes import DAILY


class DailyShape(StagesShape):
    shape = DAILY
