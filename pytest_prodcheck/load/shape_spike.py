"""Flash-sale spike: ``locust -f locustfile.py,shape_spike.py --headless`` (5 min, peak 200)."""

from __future__ import annotations

from pytest_prodcheck.load._shape_base import StagesShape
from pytest_prodcheck.load.shapes import SPIKE


class SpikeShape(StagesShape):
    shape = SPIKE
