"""Profiles (guide's numbers, scaling) and shape stage tables — pure data, no Locust."""

from __future__ import annotations

import pytest

from pytest_prodcheck.config import DEFAULT_PROFILES
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.load.journey import TASKS, EndpointPaths, requests_per_task
from pytest_prodcheck.load.profiles import PROFILES, get_profile
from pytest_prodcheck.load.shapes import DAILY, SPIKE, get_shape, shape_file


@pytest.mark.parametrize(
    ("name", "users", "seconds"),
    [("smoke", 10, 120), ("baseline", 50, 600), ("stress", 200, 900), ("spike", 500, 300),
     ("endurance", 100, 3600)],
)  # fmt: skip
def test_profiles_match_the_guide(name, users, seconds):
    p = PROFILES[name]
    assert (p.users, p.run_time_s) == (users, seconds)
    cfg = DEFAULT_PROFILES[name]  # the settings defaults agree with the library's
    assert (cfg.users, cfg.run_time, cfg.spawn_rate) == (p.users, p.run_time_s, p.spawn_rate)
    assert p.ramp_s <= p.run_time_s / 10


def test_duration_scales_every_profile_and_keeps_the_ramp_short():
    for name in PROFILES:
        p = get_profile(name, duration_s=10)
        assert p.run_time_s == 10
        assert p.ramp_s <= 10 / 5 + 1e-9
        assert p.users == PROFILES[name].users


def test_overrides_then_cli_then_scaling():
    p = get_profile("smoke", {"users": 20, "spawn_rate": 4, "run_time": 30}, users=5)
    assert (p.users, p.spawn_rate, p.run_time_s) == (5, 4, 30)
    assert get_profile("smoke", duration_s=None).run_time_s == 120


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "huge"}, "unknown load profile 'huge'"),
        ({"name": "smoke", "users": 0}, "--users must be >= 1"),
        ({"name": "smoke", "duration_s": -1}, "load duration must be > 0"),
        ({"name": "smoke", "overrides": {"users": "many"}}, "[load.profiles.smoke] users"),
    ],
)
def test_bad_profile_input_is_a_config_error(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        get_profile(**kwargs)


def test_guide_shape_stage_tables():
    assert DAILY.stages == ((60, 10), (120, 50), (180, 100), (240, 100), (300, 50), (360, 10))
    assert SPIKE.stages == ((60, 10), (120, 200), (240, 200), (300, 10))
    assert (DAILY.duration_s, DAILY.peak_users) == (360, 100)
    assert (SPIKE.duration_s, SPIKE.peak_users) == (300, 200)
    assert [SPIKE.users_at(t) for t in (0, 59.9, 60, 239, 240, 299.9, 300)] == [
        10, 10, 200, 200, 10, 10, None,
    ]  # fmt: skip
    # each ramp fits in its stage at the shape's spawn rate
    for shape in (DAILY, SPIKE):
        prev_end, prev_users = 0.0, 0
        for end, users in shape.stages:
            assert abs(users - prev_users) / shape.spawn_rate <= (end - prev_end) / 3
            prev_end, prev_users = end, users


def test_shapes_scale_to_a_duration():
    s = SPIKE.scaled_to(30)
    assert s.duration_s == 30
    assert s.stages == ((6, 10), (12, 200), (24, 200), (30, 10))
    assert s.spawn_rate == pytest.approx(SPIKE.spawn_rate * 10)
    assert s.mean_users == pytest.approx(SPIKE.mean_users)
    assert DAILY.mean_users == pytest.approx((10 + 50 + 100 + 100 + 50 + 10) / 6)
    with pytest.raises(ConfigError):
        SPIKE.scaled(0)


def test_each_shape_has_its_own_locustfile():
    for name in ("daily", "spike"):
        path = shape_file(name)
        assert path.is_file() and path.name == f"shape_{name}.py"
    with pytest.raises(ConfigError, match="unknown shape 'weekly'"):
        get_shape("weekly")


def test_journey_covers_the_guide_scenarios():
    names = {t.name for t in TASKS}
    assert {"home", "categories", "search", "product_detail", "ai_recommendations",
            "add_to_cart", "manage_cart", "checkout"} <= names  # fmt: skip
    assert 1 < requests_per_task() < 2


def test_endpoint_paths_validation():
    paths = EndpointPaths.from_mapping({"product": "/v2/items/{id}"})
    assert paths.group_name("product") == "/v2/items/[id]"
    with pytest.raises(ConfigError, match="unknown key"):
        EndpointPaths.from_mapping({"nope": "/x"})
    with pytest.raises(ConfigError, match="starting with '/'"):
        EndpointPaths.from_mapping({"search": "search"})
    with pytest.raises(ConfigError, match="must contain"):
        EndpointPaths.from_mapping({"product": "/items"})
