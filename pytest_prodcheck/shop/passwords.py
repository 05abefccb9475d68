"""Password hashing for the shop: salted scrypt, parameters stored with each hash.

    >>> stored = hash_password("correct horse")
    >>> stored.split("$")[:4]
    ['scrypt', '8192', '8', '1']
    >>> verify_password("correct horse", stored), verify_password("wrong", stored)
    (True, False)

Cost: N=2**13, r=8, p=1 (8 MiB, ~20-30 ms of one core here) with a 16-byte random salt and a
32-byte key. That is deliberately modest so that a load test's register/login traffic does not
turn the 2-core box into a hashing benchmark; a real shop should use N >= 2**15 (OWASP suggests
N=2**17). Hashes carry their own parameters, so raising the cost later keeps old hashes valid.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

SCHEME = "scrypt"
N = 2**13
R = 8
P = 1
SALT_BYTES = 16
KEY_BYTES = 32
_MAXMEM = 256 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, salt: bytes | None = None, n: int = N) -> str:
    """Return ``scrypt$N$r$p$salt$key`` (base64 fields) for ``password``."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    key = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=R, p=P, maxmem=_MAXMEM, dklen=KEY_BYTES
    )
    return f"{SCHEME}${n}${R}${P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; False for a wrong password or a malformed hash."""
    try:
        scheme, n, r, p, salt_b64, key_b64 = stored.split("$")
        if scheme != SCHEME:
            return False
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(key_b64, validate=True)
        key = hashlib.scrypt(
            password.encode("utf-8"),
            salt=salt,
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(key, expected)
