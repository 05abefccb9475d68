"""Request parsing that turns bad input into a 4xx ``{"error": ...}``, never a 500.

    >>> require_int({"quantity": 2}, "quantity", low=1, high=999)
    2
    >>> require_int({"quantity": -1}, "quantity", low=1, high=999)
    Traceback (most recent call last):
    ...
    pytest_prodcheck.shop.validate.ApiError: quantity must be between 1 and 999

Views raise :class:`ApiError`; the app's exception handler renders it as JSON.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

MAX_INT4 = 2**31 - 1
MAX_BODY_BYTES = 64 * 1024


class ApiError(Exception):
    """A client error: ``status`` (4xx) and a one-line message sent as ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def json_object(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """The request body as a JSON object (400 for invalid JSON or a non-object, 413 if huge)."""
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, f"request body too large (max {MAX_BODY_BYTES} bytes)")
    if allow_empty and not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


def require_int(data: dict[str, Any], key: str, *, low: int = 1, high: int = MAX_INT4) -> int:
    """``data[key]`` as an int in ``[low, high]`` (bools and floats rejected)."""
    if key not in data or data[key] is None:
        raise ApiError(400, f"missing field: {key}")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"{key} must be an integer")
    if not low <= value <= high:
        raise ApiError(400, f"{key} must be between {low} and {high}")
    return value


def require_str(data: dict[str, Any], key: str, *, min_len: int = 1, max_len: int = 200) -> str:
    """``data[key]`` as a stripped string of ``min_len``..``max_len`` characters."""
    if key not in data or data[key] is None:
        raise ApiError(400, f"missing field: {key}")
    value = data[key]
    if not isinstance(value, str):
        raise ApiError(400, f"{key} must be a string")
    value = value.strip()
    if not min_len <= len(value) <= max_len:
        raise ApiError(400, f"{key} must be {min_len} to {max_len} characters long")
    return value


def query_int(request: Request, key: str, default: int | None, *, low: int, high: int) -> int:
    """Query parameter ``key`` as an int in ``[low, high]``; ``default`` when absent."""
    raw = request.query_params.get(key)
    if raw is None or raw == "":
        if default is None:
            raise ApiError(400, f"missing query parameter: {key}")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter {key} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, f"query parameter {key} must be between {low} and {high}")
    return value


def path_id(request: Request, key: str) -> int:
    """Path parameter ``key`` (an ``{key:int}`` route) as a database id; 404 when out of range."""
    value = int(request.path_params[key])
    if not 1 <= value <= MAX_INT4:
        raise ApiError(404, f"{key.replace('_', ' ')} {value} not found")
    return value
