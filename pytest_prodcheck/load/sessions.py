"""Remembered sessions: returning customers who are still logged in when the load starts.

    >>> tokens = remembered_sessions(target, accounts, numbers=range(1, 401))  # doctest: +SKIP
    >>> len(tokens), sorted(tokens)[:2]                                         # doctest: +SKIP
    (400, [1, 2])

A flash sale's shoppers are mostly returning customers whose session cookie from an earlier
visit is still valid (the reference shop's sessions last a day): they do not hash a password when
they arrive. This logs those accounts in *before* the run (a few at a time, not measured) and hands
the tokens to the journey; tokens are kept in this process for an hour, so the next load run of
the session against the same site reuses them. They travel to Locust in a 0600 file that the run
deletes at its end; they never appear in a report.
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.load._client import LeanSession

KEEP_S = 3600.0
CONCURRENCY = 4
_cache: dict[tuple[str, str | None, str], dict[int, tuple[float, str]]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Target:
    host: str  # base URL to connect to
    host_header: str | None = None
    ca_bundle: str | None = None
    login_path: str = "/api/auth/login"


class _NoEvents:
    @staticmethod
    def fire(**_kw: Any) -> None:
        pass


def _context(ca_bundle: str | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_bundle:
        ctx.load_verify_locations(cafile=ca_bundle)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def account_password(accounts: Mapping[str, Any]) -> str:
    """The accounts' password: the shop seed's for ``seeded`` accounts, else from the env."""
    if accounts.get("seeded"):
        from pytest_prodcheck.shop.seed import SEED_PASSWORD

        return SEED_PASSWORD
    return os.environ.get("PRODCHECK_LOAD_ACCOUNT_PASSWORD", "")


def remembered_sessions(
    target: Target, accounts: Mapping[str, Any], numbers: Iterable[int], timeout: float = 120.0
) -> dict[int, str]:
    """``{account number: token}`` for ``numbers`` (cached ones reused; failures left out)."""
    key = (target.host, target.host_header, str(accounts.get("email")))
    now = time.monotonic()
    with _lock:
        known = _cache.setdefault(key, {})
        have = {n: tok for n, (t, tok) in known.items() if now - t < KEEP_S}
    wanted = [n for n in numbers if n not in have]
    if wanted:
        password = account_password(accounts)
        ctx = _context(target.ca_bundle)
        deadline = time.monotonic() + timeout

        def login_some(chunk: list[int]) -> dict[int, str]:
            session = LeanSession(
                target.host, _NoEvents(), host_header=target.host_header, ssl_context=ctx
            )
            out: dict[int, str] = {}
            try:
                for n in chunk:
                    if time.monotonic() > deadline:
                        break
                    email = str(accounts["email"]).replace("{n}", str(n))
                    body = json.dumps({"email": email, "password": password}).encode()
                    resp = session.request("POST", target.login_path, body=body)
                    token = resp.json() if resp is not None and resp.status == 200 else None
                    if isinstance(token, dict) and isinstance(token.get("token"), str):
                        out[n] = token["token"]
            finally:
                session.close()
            return out

        chunks = [wanted[i::CONCURRENCY] for i in range(CONCURRENCY)]
        try:
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                fresh: dict[int, str] = {}
                for part in pool.map(login_some, chunks):
                    fresh.update(part)
        except OSError as exc:
            raise TargetUnreachable(f"cannot log the returning customers in: {exc}") from None
        stamp = time.monotonic()
        with _lock:
            known.update({n: (stamp, tok) for n, tok in fresh.items()})
        have.update(fresh)
    return {n: have[n] for n in numbers if n in have}


def write_tokens(path: Path, tokens: Mapping[int, str]) -> Path:
    """Write ``tokens`` for the journey (mode 0600); :func:`remove_tokens` after the run."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({str(n): tok for n, tok in tokens.items()}, fh)
    return path


def remove_tokens(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
