"""The guide's traffic shapes as stage tables (plain data; the Locust classes live in shape_*.py).

    >>> DAILY.duration_s, DAILY.users_at(150), DAILY.peak_users
    (360.0, 100, 100)
    >>> fast = SPIKE.scaled_to(30)          # the flash sale compressed into 30 s
    >>> fast.stages[:2], fast.spawn_rate
    (((6.0, 10), (12.0, 200)), 190.0)
    >>> shape_file("spike").name
    'shape_spike.py'

Each stage is ``(end_time_s, users)``: from the previous stage's end until ``end_time_s`` the
target holds ``users``. Compose a shape with the locustfile as Locust does:
``locust -f locustfile.py,shape_daily.py`` (``-t``/``-u``/``-r`` are then ignored; the shape
ends the run itself). ``PRODCHECK_SHAPE_TIME_SCALE`` compresses the shape's clock
(``--prodcheck-load-duration``): the runner sets it to ``duration / shape.duration_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_prodcheck.core.errors import ConfigError

HERE = Path(__file__).resolve().parent
TIME_SCALE_ENV = "PRODCHECK_SHAPE_TIME_SCALE"


@dataclass(frozen=True)
class StageShape:
    name: str
    stages: tuple[tuple[float, int], ...]
    spawn_rate: float  # users per second while ramping between stages
    description: str = ""

    @property
    def duration_s(self) -> float:
        return float(self.stages[-1][0])

    @property
    def peak_users(self) -> int:
        return max(u for _, u in self.stages)

    @property
    def mean_users(self) -> float:
        """Time-weighted mean user count (for the throughput bound)."""
        total, start = 0.0, 0.0
        for end, users in self.stages:
            total += (end - start) * users
            start = end
        return total / self.duration_s

    def users_at(self, t: float) -> int | None:
        """Users the shape asks for at run time ``t`` seconds; ``None`` once it is over."""
        for end, users in self.stages:
            if t < end:
                return users
        return None

    def scaled(self, factor: float) -> StageShape:
        """Stage times multiplied by ``factor``; the spawn rate grows so ramps still fit."""
        if factor <= 0:
            raise ConfigError(f"shape {self.name}: time scale must be > 0, got {factor}")
        stages = tuple((round(end * factor, 3), users) for end, users in self.stages)
        return StageShape(self.name, stages, round(self.spawn_rate / factor, 3), self.description)

    def scaled_to(self, duration_s: float) -> StageShape:
        """The same shape lasting ``duration_s`` seconds."""
        return self.scaled(duration_s / self.duration_s)


# The guide, "Traffic Patterns". Spawn rates make every ramp take at most ~1/6 of its stage.
DAILY = StageShape(
    "daily",
    ((60, 10), (120, 50), (180, 100), (240, 100), (300, 50), (360, 10)),
    spawn_rate=5.0,
    description="morning ramp-up, increasing traffic, peak, sustained peak, evening decline, night",
)
SPIKE = StageShape(
    "spike",
    ((60, 10), (120, 200), (240, 200), (300, 10)),
    spawn_rate=19.0,
    description="flash sale: normal traffic, sudden spike to 200 users, sustained, back to normal",
)
SHAPES: dict[str, StageShape] = {"daily": DAILY, "spike": SPIKE}
STAGES_ENV = "PRODCHECK_SHAPE_STAGES"


def steps_shape(users: tuple[int, ...], duration_s: float, spawn_rate: float) -> StageShape:
    """Stress steps: each user count held for an equal share of ``duration_s``.

    >>> steps_shape((50, 100, 150, 200), 60, 20).stages
    ((15.0, 50), (30.0, 100), (45.0, 150), (60.0, 200))
    """
    if not users or any(u < 1 for u in users):
        raise ConfigError(f"stress steps {users!r}: expected user counts >= 1")
    each = duration_s / len(users)
    stages = tuple((round(each * (i + 1), 3), u) for i, u in enumerate(users))
    return StageShape("steps", stages, spawn_rate, "stress: users stepped up to the profile's")


def parse_steps(text: str, profile_users: int) -> tuple[int, ...]:
    """``"50,100,150,200"`` -> user counts; empty -> four equal steps up to ``profile_users``.

    >>> parse_steps("", 200), parse_steps("25, 50,200", 200)
    ((50, 100, 150, 200), (25, 50, 200))
    """
    if not text.strip():
        return tuple(max(1, round(profile_users * k / 4)) for k in (1, 2, 3, 4))
    try:
        steps = tuple(int(x) for x in text.replace(" ", "").split(",") if x)
    except ValueError:
        raise ConfigError(
            f'[load] stress_steps = {text!r}: expected user counts, e.g. "50,100,150,200"'
        ) from None
    if not steps or any(u < 1 for u in steps) or list(steps) != sorted(set(steps)):
        raise ConfigError(f"[load] stress_steps = {text!r}: expected increasing user counts >= 1")
    return steps


def get_shape(name: str) -> StageShape:
    try:
        return SHAPES[name]
    except KeyError:
        raise ConfigError(f"unknown shape {name!r}: choose one of {', '.join(SHAPES)}") from None


def shape_file(name: str) -> Path:
    """The locustfile that defines shape ``name``, to append to ``-f``."""
    get_shape(name)
    return HERE / f"shape_{name}.py"
