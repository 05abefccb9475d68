"""shop/validate.py and shop/settings.py: bad input becomes a 4xx / a one-line ConfigError."""

from __future__ import annotations

import pytest

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.shop.auth import token_digest, token_from_headers
from pytest_prodcheck.shop.settings import ShopSettings
from pytest_prodcheck.shop.validate import ApiError, require_int, require_str
from pytest_prodcheck.shop.views.ai import decision, fraud_score
from pytest_prodcheck.shop.views.catalog import tsquery


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "missing field: n"),
        ({"n": None}, "missing field: n"),
        ({"n": "3"}, "n must be an integer"),
        ({"n": 2.0}, "n must be an integer"),
        ({"n": True}, "n must be an integer"),
        ({"n": 0}, "n must be between 1 and 10"),
        ({"n": 11}, "n must be between 1 and 10"),
    ],
)
def test_require_int_rejects(data, message):
    with pytest.raises(ApiError) as exc:
        require_int(data, "n", low=1, high=10)
    assert exc.value.status == 400 and exc.value.message == message


def test_require_str_strips_and_bounds():
    assert require_str({"s": "  hi "}, "s") == "hi"
    for bad in ({"s": 1}, {"s": "   "}, {"s": "x" * 201}, {}):
        with pytest.raises(ApiError):
            require_str(bad, "s")


def test_tsquery_is_built_from_words_only():
    assert tsquery("Wireless  LAMP!") == "wireless:* & lamp:*"
    assert tsquery("a'b|c & !d") == "a:* & b:* & c:* & d:*"  # no tsquery operators get through
    with pytest.raises(ApiError):
        tsquery("!!! ___")


def test_token_sources():
    assert token_from_headers("Bearer abc", "cookie") == "abc"  # the header wins
    assert token_from_headers("bearer abc", None) == "abc"
    assert token_from_headers("Basic abc", "cookie") is None  # a wrong scheme is not ignored
    assert token_from_headers(None, "xyz") == "xyz"
    assert token_from_headers(None, None) is None
    assert len(token_digest("abc")) == 32


def test_fraud_decisions_follow_the_score():
    assert decision(fraud_score(5_000, 0, 1)) == "approve"
    assert decision(fraud_score(5_000_000, 0, 1)) == "review"
    assert decision(fraud_score(5_000_000, 20, 1)) == "reject"


def test_settings_from_env():
    env = {
        "PRODCHECK_SHOP_DSN": "postgresql://a@h/ecommerce",
        "PRODCHECK_SHOP_AI_DSN": "postgresql://a@h/ai",
    }
    assert ShopSettings.from_env(env).pool_max == 20
    assert ShopSettings.from_env({**env, "PRODCHECK_SHOP_POOL_MAX": "5"}).pool_max == 5
    with pytest.raises(ConfigError, match="PRODCHECK_SHOP_AI_DSN is not set"):
        ShopSettings.from_env({"PRODCHECK_SHOP_DSN": "postgresql://a@h/e"})
    with pytest.raises(
        ConfigError, match="PRODCHECK_SHOP_POOL_MAX='many': expected a whole number"
    ):
        ShopSettings.from_env({**env, "PRODCHECK_SHOP_POOL_MAX": "many"})
    with pytest.raises(ConfigError, match="expected a number from 1 to 500"):
        ShopSettings.from_env({**env, "PRODCHECK_SHOP_POOL_MAX": "0"})
