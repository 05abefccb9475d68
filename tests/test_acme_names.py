"""Certificate names: the guide's defaults, extras, and what Let's Encrypt would refuse."""

from __future__ import annotations

import pytest

from pytest_prodcheck.acme.errors import InvalidDomain
from pytest_prodcheck.acme.names import certificate_names, validate_domain
from pytest_prodcheck.core.errors import ConfigError


def test_defaults_are_www_api_monitoring() -> None:
    assert certificate_names("Shop.Example.com.") == (
        "shop.example.com",
        "www.shop.example.com",
        "api.shop.example.com",
        "monitoring.shop.example.com",
    )


def test_extras_bare_label_is_a_subdomain_dotted_is_used_as_is() -> None:
    names = certificate_names("shop.test", ["cdn", "static.other.test", "www"], defaults=False)
    assert names == ("shop.test", "cdn.shop.test", "static.other.test", "www.shop.test")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("shop", "at least two labels"),
        ("", "empty"),
        ("*.shop.test", "wildcard"),
        ("127.0.0.1", "IP address"),
        ("a..b.test", "two dots"),
        ("-a.test", "inner hyphens"),
        ("under_score.test", "inner hyphens"),
        ("shöp.test", "xn--"),
        ("a" * 64 + ".test", "at most 63"),
        (("a" * 60 + ".") * 5 + "test", "at most 253"),
        ("shop.123", "numeric"),
    ],
)
def test_invalid_names_are_config_errors_naming_the_name(name: str, why: str) -> None:
    with pytest.raises(InvalidDomain) as info:
        validate_domain(name)
    assert isinstance(info.value, ConfigError) and info.value.exit_code == 2
    assert why in str(info.value) and repr(name)[:20] in str(info.value)


def test_at_most_100_names() -> None:
    with pytest.raises(InvalidDomain, match="at most 100"):
        certificate_names("shop.test", [f"n{i}" for i in range(100)])
