"""Sessions: opaque bearer tokens, stored only as SHA-256 hashes.

    >>> token, digest = new_token()
    >>> len(token) >= 40, digest == token_digest(token)
    (True, True)
    >>> token_from_headers("Bearer abc", None), token_from_headers(None, "xyz")
    ('abc', 'xyz')

A client authenticates with ``Authorization: Bearer <token>`` or the ``session`` cookie that
login sets (``Secure; HttpOnly; SameSite=Lax``). :func:`current_user` answers 401 otherwise; a
valid session is cached (``shop.cache``) for the cache's TTL, never past its expiry.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import LiteralString

from starlette.requests import Request

from pytest_prodcheck.shop.cache import caches
from pytest_prodcheck.shop.db import ShopPool
from pytest_prodcheck.shop.validate import ApiError

COOKIE = "session"
TOKEN_BYTES = 32
SQL_SESSION_USER: LiteralString = (
    "SELECT user_id, extract(epoch FROM expires_at - now()) AS ttl FROM sessions"
    " WHERE token_hash = %s AND expires_at > now()"
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
    digest = token_digest(token)
    cache = caches(request).sessions
    user_id = cache.get(digest)
    if user_id is not None:
        return int(user_id)
    async with pool.connection() as conn:
        cur = await conn.execute(SQL_SESSION_USER, [digest])
        row = await cur.fetchone()
    if row is None:
        raise ApiError(401, "invalid or expired token: log in again")
    cache.put(digest, int(row["user_id"]), ttl_s=float(row["ttl"]))  # never past its expiry
    return int(row["user_id"])
