"""The guide's load profiles and how ``--prodcheck-load-duration`` scales them.

    >>> PROFILES["smoke"].users, PROFILES["smoke"].run_time_s
    (10, 120.0)
    >>> get_profile("baseline").scaled(duration_s=20).run_time_s
    20.0
    >>> get_profile("stress", users=80).users
    80

Profiles (guide, "Load Testing"): smoke 10 users / 2 min, baseline 50 / 10 min, stress 200 / 15 min,
spike 500 / 5 min, endurance 100 / 60 min, stated in :data:`pytest_prodcheck.guide.LOAD_PROFILES`.
Spawn rates ramp each profile within ~10 % of its run time. ``[load.profiles.<name>]`` in ``prodcheck.toml`` overrides ``users``, ``spawn_rate``,
``run_time`` and the per-profile thresholds (see :mod:`pytest_prodcheck.load.thresholds`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.guide import LOAD_PROFILES


@dataclass(frozen=True)
class Profile:
    name: str
    users: int
    run_time_s: float
    spawn_rate: float
    purpose: str = ""

    def scaled(self, duration_s: float | None) -> Profile:
        """The same profile run for ``duration_s`` seconds (``None`` keeps it).

        The spawn rate is raised if needed so the ramp still takes at most a fifth of the run.
        """
        if duration_s is None:
            return self
        if duration_s <= 0:
            raise ConfigError(f"load duration must be > 0 seconds, got {duration_s}")
        rate = max(self.spawn_rate, self.users / max(duration_s / 5, 0.2))
        return replace(self, run_time_s=float(duration_s), spawn_rate=round(rate, 3))

    @property
    def ramp_s(self) -> float:
        return self.users / self.spawn_rate


PROFILES: dict[str, Profile] = {
    name: Profile(name, p.users, float(p.run_time_s), p.spawn_rate, p.purpose)
    for name, p in LOAD_PROFILES.items()
}


def _number(profile: str, key: str, value: object, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(
            f"[load.profiles.{profile}] {key} = {value!r}: expected a number >= {minimum}"
        )
    return float(value)


def get_profile(
    name: str,
    overrides: Mapping[str, object] | None = None,
    *,
    users: int | None = None,
    spawn_rate: float | None = None,
    duration_s: float | None = None,
) -> Profile:
    """Profile ``name`` + ``[load.profiles.<name>]`` overrides, then CLI overrides, then scaling."""
    try:
        profile = PROFILES[name]
    except KeyError:
        raise ConfigError(
            f"unknown load profile {name!r}: choose one of {', '.join(PROFILES)}"
        ) from None
    data = dict(overrides or {})
    if "users" in data:
        profile = replace(profile, users=int(_number(name, "users", data["users"], 1)))
    if "spawn_rate" in data:
        profile = replace(profile, spawn_rate=_number(name, "spawn_rate", data["spawn_rate"], 0.01))
    if "run_time" in data:
        profile = replace(profile, run_time_s=_number(name, "run_time", data["run_time"], 1))
    if users is not None:
        if users < 1:
            raise ConfigError(f"--users must be >= 1, got {users}")
        profile = replace(profile, users=users)
    if spawn_rate is not None:
        if spawn_rate <= 0:
            raise ConfigError(f"--spawn-rate must be > 0, got {spawn_rate}")
        profile = replace(profile, spawn_rate=spawn_rate)
    return profile.scaled(duration_s)
