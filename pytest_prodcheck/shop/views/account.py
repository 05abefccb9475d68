"""Account views: register and log in (both hand out a session token).

    POST /api/auth/register {"email", "password", "name"} -> 201 {"id", "token"}
    POST /api/auth/login    {"email", "password"}         -> 200 {"token"} + cookie session=…

Password hashing runs in a worker thread so the event loop keeps serving other requests.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import LiteralString

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pytest_prodcheck.shop import passwords
from pytest_prodcheck.shop.auth import COOKIE, new_token
from pytest_prodcheck.shop.db import ShopConn
from pytest_prodcheck.shop.validate import ApiError, json_object, require_str
from pytest_prodcheck.shop.views._common import pools

SQL_LOGIN: LiteralString = "SELECT id, password_hash FROM users WHERE lower(email) = lower(%s)"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# verified when the e-mail is unknown, so "no such user" costs the same time as "wrong password"
_DUMMY_HASH = passwords.hash_password("not-a-real-password", salt=b"prodcheck-dummy!")


def _email(data: dict[str, object]) -> str:
    email = require_str(data, "email", min_len=3, max_len=254)
    if not _EMAIL.match(email):
        raise ApiError(400, "email must look like name@example.com")
    return email


def _session_response(
    request: Request, body: dict[str, object], status: int, token: str
) -> JSONResponse:
    response = JSONResponse(body, status_code=status)
    response.set_cookie(
        COOKIE,
        token,
        max_age=request.app.state.settings.session_ttl_s,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )
    return response


async def _new_session(conn: ShopConn, user_id: int, ttl_s: int) -> str:
    token, digest = new_token()
    await conn.execute(  # keep the table small: drop this user's expired sessions
        "DELETE FROM sessions WHERE user_id = %s AND expires_at < now()", [user_id]
    )
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl_s)
    await conn.execute(
        "INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (%s, %s, %s)",
        [digest, user_id, expires],
    )
    return token


async def register(request: Request) -> JSONResponse:
    data = await json_object(request)
    email = _email(data)
    password = require_str(data, "password", min_len=8, max_len=128)
    name = require_str(data, "name", min_len=1, max_len=100)
    hashed = await anyio.to_thread.run_sync(passwords.hash_password, password)
    ttl = request.app.state.settings.session_ttl_s
    async with pools(request).main.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "INSERT INTO users (email, name, password_hash) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING id",
            [email, name, hashed],
        )
        row = await cur.fetchone()
        if row is None:
            raise ApiError(409, "email already registered: log in instead")
        token = await _new_session(conn, row["id"], ttl)
    return _session_response(request, {"id": row["id"], "token": token}, 201, token)


async def login(request: Request) -> JSONResponse:
    data = await json_object(request)
    email = _email(data)
    password = require_str(data, "password", min_len=1, max_len=128)
    main = pools(request).main
    async with main.connection() as conn:
        cur = await conn.execute(SQL_LOGIN, [email])
        row = await cur.fetchone()
    stored = row["password_hash"] if row else _DUMMY_HASH
    ok = await anyio.to_thread.run_sync(passwords.verify_password, password, stored)
    if row is None or not ok:
        raise ApiError(401, "wrong email or password")
    async with main.connection() as conn:
        token = await _new_session(conn, row["id"], request.app.state.settings.session_ttl_s)
    return _session_response(request, {"token": token}, 200, token)


ROUTES = [
    Route("/api/auth/register", register, methods=["POST"]),
    Route("/api/auth/login", login, methods=["POST"]),
]
