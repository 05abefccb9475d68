"""shop/passwords.py: salted scrypt hashes that carry their own parameters."""

from __future__ import annotations

import pytest

from pytest_prodcheck.shop import passwords


def test_hash_round_trip_and_format():
    stored = passwords.hash_password("correct horse battery")
    scheme, n, r, p, _salt, _key = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(passwords.N), "8", "1")
    assert "correct horse" not in stored
    assert passwords.verify_password("correct horse battery", stored)
    assert not passwords.verify_password("correct horse batterY", stored)


def test_salt_makes_equal_passwords_hash_differently():
    assert passwords.hash_password("same") != passwords.hash_password("same")
    fixed = b"0123456789abcdef"
    assert passwords.hash_password("same", salt=fixed) == passwords.hash_password(
        "same", salt=fixed
    )


def test_old_hashes_with_other_parameters_still_verify():
    cheap = passwords.hash_password("pw", n=2**10)
    assert cheap.split("$")[1] == "1024"
    assert passwords.verify_password("pw", cheap)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain-text",
        "md5$abc",
        "scrypt$x$8$1$AAAA$AAAA",
        "scrypt$1024$8$1$!!!$AAAA",
        "bcrypt$1$2$3$4$5",
    ],
)
def test_malformed_hashes_never_verify_and_never_raise(stored):
    assert passwords.verify_password("pw", stored) is False
