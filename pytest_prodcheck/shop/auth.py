"""Sessions: opaque bearer tokens, stored only as SHA-256 hashes.

    >>> token, digest = new_token()
    >>> len(token) >= 40, digest == token_digest(token)
    (True, True)
    >>> token_from_headers("Bearer abc", None), token_from_headers(None, "xyz")
    ('abc', 'xyz')

A client authenticates with ``Authorization: Bearer <token>`` or the ``session`` cookie that
login sets (``Secure; HttpOnly; SameSite=Lax``). :func:`current_user` answers 401 otherwise.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import LiteralString

from starlette.requests import Request

from pytest_prodcheck.shop.db import ShopPool
from pytest_prodcheck.shop.validate import ApiError

COOKIE = "session"
TOKEN_BYTES = 32
SQL_SESSION_USER: LiteralString = (
    "SELECT user_id FROM sessions WHERE token_hash = %s AND expires_at > now()"
)


def new_token() -> tuple[str, bytes]:
    """A fresh token and the digest to store for it."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_digest(token)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def token_from_headers(authorization: str | None, cookie: str | None) -> str | None:
    """The token from an ``Authorization: Bearer`` header, else from the session cookie."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    return cookie or None


async def current_user(request: Request, pool: ShopPool) -> int:
    """The id of the authenticated user; :class:`ApiError` 401 when there is none."""
    token = token_from_headers(request.headers.get("authorization"), request.cookies.get(COOKIE))
    if not token or len(token) > 200:
        raise ApiError(401, "authentication required: send Authorization: Bearer <token>")
    async with pool.connection() as conn:
        cur = await conn.execute(SQL_SESSION_USER, [token_digest(token)])
        row = await cur.fetchone()
    if row is None:
        raise ApiError(401, "invalid or expired token: log in again")
    return int(row["user_id"])
