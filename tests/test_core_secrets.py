"""secrets.py: passwords masked in DSNs (also malformed ones), key=value pairs and literals."""

from __future__ import annotations

import pytest

from pytest_prodcheck.config import load_settings
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.secrets import mask_dsn, mask_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://app:s3cret@127.0.0.1:6432/db", "postgresql://app:***@127.0.0.1:6432/db"),
        ("posgres:/app:hunter2secret@/x", "posgres:/app:***@/x"),
        ("postgresql://app@h/db", "postgresql://app@h/db"),
        ("listening on 127.0.0.1:5432", "listening on 127.0.0.1:5432"),
        ("host=h password=s3cret dbname=db", "host=h password=*** dbname=db"),
        ("host=h password = 'a b\\' c' user=u", "host=h password = *** user=u"),
        ("host=h sslpassword=k3y PASSWORD='x", "host=h sslpassword=*** PASSWORD=***"),
        (
            "postgresql://h/db?password=s3cret&sslmode=require",
            "postgresql://h/db?password=***&sslmode=require",
        ),
    ],
)
def test_mask_dsn(text: str, masked: str) -> None:
    assert mask_dsn(text) == masked


def test_mask_text_pairs_and_literals() -> None:
    out = mask_text("password=abc123 token: 'xyz789' then s3cretvalue", extra=["s3cretvalue"])
    assert "abc123" not in out and "xyz789" not in out and "s3cretvalue" not in out


def test_malformed_dsn_in_config_error_does_not_echo_the_password() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(None, {"database.dsn": "posgres:/app:hunter2secret@/x"}, {})
    assert "hunter2secret" not in str(info.value) and "database" in str(info.value)
