"""Connection overhead, direct vs through PgBouncer: what the guide's "30–50 % reduction" means.

    >>> result = measure_overhead("postgresql://app:pw@127.0.0.1:5432/ecommerce",
    ...                           "postgresql://app:pw@127.0.0.1:6432/ecommerce", n=200)
    >>> result.direct.median_ms, result.pooled.median_ms, round(result.reduction_pct)
    (4.12, 2.32, 44)
    >>> check_overhead(result).ok                       # >= 30 % less than direct
    True

One sample is what a web request without an application-side pool pays: ``connect`` + ``SELECT 1``
+ ``close``, sequentially, like ``pgbench -n -C -c1``. Paths are measured in interleaved rounds (so
a load change on the machine hits both alike) after a warm-up. Check id: ``pgbouncer.overhead``.

PgBouncer can be *slower* than a direct connection: with ``auth_type = scram-sha-256`` and
plaintext passwords in the ``auth_file`` it runs PBKDF2 itself for every login, on its single
thread. Storing the SCRAM secrets from ``pg_authid`` in the auth_file avoids that. Because timings
swing on a loaded machine, that case is also told apart deterministically: the check starts two
SCRAM logins (no password needed) and compares the salts PgBouncer offers — a stored secret has
one salt, a plaintext password gets a fresh salt per login (``hashes_every_login``).
"""

from __future__ import annotations

import base64
import os
import socket
import statistics
import struct
import time
from dataclasses import dataclass

import psycopg

from pytest_prodcheck.core.dsn import Dsn, connect_error
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.result import CheckResult

__all__ = [
    "LatencyStats",
    "OverheadResult",
    "check_overhead",
    "hashes_every_login",
    "measure_overhead",
    "scram_salts",
    "time_connects",
]

GUIDE_MIN_REDUCTION_PCT = 30.0


@dataclass(frozen=True)
class LatencyStats:
    """Connect + ``SELECT 1`` + close latencies in milliseconds."""

    n: int
    median_ms: float
    p95_ms: float
    mean_ms: float

    @classmethod
    def of(cls, samples_ms: list[float]) -> LatencyStats:
        if not samples_ms:
            raise ValueError("no samples")
        ordered = sorted(samples_ms)
        p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
        return cls(len(ordered), statistics.median(ordered), p95, statistics.fmean(ordered))

    def text(self) -> str:
        return f"median {self.median_ms:.2f} ms, p95 {self.p95_ms:.2f} ms (n={self.n})"


@dataclass(frozen=True)
class OverheadResult:
    direct: LatencyStats
    pooled: LatencyStats
    #: True when PgBouncer answers each SCRAM login with a fresh salt, i.e. it holds a plaintext
    #: password and runs PBKDF2 per login; None when that could not be told (not SCRAM, TLS …).
    hashes_every_login: bool | None = None

    @property
    def reduction_pct(self) -> float:
        """How much less a pooled connection costs than a direct one, in % of direct (medians)."""
        return 100.0 * (1.0 - self.pooled.median_ms / self.direct.median_ms)

    @property
    def p95_reduction_pct(self) -> float:
        return 100.0 * (1.0 - self.pooled.p95_ms / self.direct.p95_ms)


def time_connects(dsn: str, n: int, what: str = "PostgreSQL") -> list[float]:
    """``n`` sequential connect + ``SELECT 1`` + close, each in ms."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            conn = psycopg.connect(dsn, autocommit=True, prepare_threshold=None, connect_timeout=10)
        except psycopg.ProgrammingError:
            raise ConfigError(f"malformed {what} DSN") from None
        except psycopg.Error as exc:
            raise connect_error(dsn, exc, what) from None
        try:
            conn.execute("SELECT 1").fetchone()
        finally:
            conn.close()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def measure_overhead(
    direct_dsn: str, pgbouncer_dsn: str, n: int = 200, rounds: int = 4, warmup: int = 10
) -> OverheadResult:
    """Time ``n`` connections on each path, in ``rounds`` interleaved rounds after ``warmup``."""
    if n < rounds or rounds < 1:
        raise ConfigError(
            f"need n >= rounds >= 1 connections to measure, got n={n}, rounds={rounds}"
        )
    time_connects(direct_dsn, warmup, "PostgreSQL (direct)")
    time_connects(pgbouncer_dsn, warmup, "PgBouncer")
    direct: list[float] = []
    pooled: list[float] = []
    per_round = [n // rounds + (1 if i < n % rounds else 0) for i in range(rounds)]
    for i, k in enumerate(per_round):
        order = ((direct_dsn, direct), (pgbouncer_dsn, pooled))
        for dsn, bucket in order if i % 2 == 0 else reversed(order):
            bucket.extend(time_connects(dsn, k, "PgBouncer" if bucket is pooled else "PostgreSQL"))
    return OverheadResult(
        LatencyStats.of(direct), LatencyStats.of(pooled), hashes_every_login(pgbouncer_dsn)
    )


def _read_message(sock: socket.socket) -> tuple[bytes, bytes]:
    def exactly(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("server closed the connection")
            buf += chunk
        return buf

    header = exactly(5)
    (length,) = struct.unpack("!i", header[1:])
    return header[:1], exactly(length - 4)


def _server_first_salt(host: str, port: int, user: str, dbname: str, timeout: float) -> str | None:
    """Start a SCRAM-SHA-256 login and return the salt the server offers (no password needed:
    the exchange is abandoned after the server-first message)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        params = b"user\0" + user.encode() + b"\0database\0" + dbname.encode() + b"\0\0"
        sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
        kind, body = _read_message(sock)
        if kind != b"R" or struct.unpack("!i", body[:4])[0] != 10 or b"SCRAM-SHA-256" not in body:
            return None  # not a SCRAM login (trust, md5, an error such as "SSL required")
        first = b"n,,n=,r=" + base64.b64encode(os.urandom(18))
        payload = b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first
        sock.sendall(b"p" + struct.pack("!i", 4 + len(payload)) + payload)
        kind, body = _read_message(sock)
        if kind != b"R" or struct.unpack("!i", body[:4])[0] != 11:
            return None
        fields = dict(f.split("=", 1) for f in body[4:].decode().split(",") if "=" in f)
        return fields.get("s")


def scram_salts(dsn: str, attempts: int = 3, timeout: float = 5.0) -> tuple[str, ...] | None:
    """The SCRAM salts offered to ``attempts`` logins of the DSN's user (None: not SCRAM)."""
    parts = Dsn.parse(dsn, "PgBouncer DSN")
    host, port, user, dbname = parts.host or "127.0.0.1", parts.port, parts.user, parts.dbname
    salts = []
    for _ in range(attempts):
        try:
            salt = _server_first_salt(host, port, user, dbname, timeout)
        except (OSError, EOFError, ValueError, struct.error):
            return None
        if salt is None:
            return None
        salts.append(salt)
    return tuple(salts)


def hashes_every_login(pgbouncer_dsn: str) -> bool | None:
    """True when PgBouncer offers a new salt per login: its auth_file holds a plaintext password
    and it computes PBKDF2 for every login; False when the salt is stable (a SCRAM secret)."""
    salts = scram_salts(pgbouncer_dsn)
    if salts is None:
        return None
    return len(set(salts)) > 1


def check_overhead(
    result: OverheadResult, min_reduction_pct: float = GUIDE_MIN_REDUCTION_PCT
) -> CheckResult:
    """Pass when PgBouncer cuts the per-connection cost by at least ``min_reduction_pct`` %."""
    observed = (
        f"direct {result.direct.text()}; PgBouncer {result.pooled.text()}; "
        f"reduction {result.reduction_pct:.0f} % (p95 {result.p95_reduction_pct:.0f} %)"
    )
    expected = f"reduction >= {min_reduction_pct:g} % (the guide claims 30-50 %)"
    reduction = result.reduction_pct
    if result.hashes_every_login is not None:
        observed += "; PgBouncer " + (
            "hashes every login (new SCRAM salt per login)"
            if result.hashes_every_login
            else "verifies logins with stored SCRAM secrets"
        )
    if reduction >= min_reduction_pct and not result.hashes_every_login:
        return CheckResult.passed("pgbouncer.overhead", observed, expected)
    if result.hashes_every_login:
        message = (
            f"PgBouncer hashes every login itself (a new SCRAM salt per login: the auth_file holds "
            f"a plaintext password), so a pooled connect costs {result.pooled.median_ms:.2f} ms vs "
            f"{result.direct.median_ms:.2f} ms direct ({reduction:.0f} % less) and logins are "
            "capped by its single thread; put the SCRAM secrets from pg_authid.rolpassword in "
            "the auth_file (or use auth_query)"
        )
        return CheckResult.failed("pgbouncer.overhead", observed, expected, message)
    if reduction < 0:
        message = (
            f"PgBouncer is SLOWER than a direct connection ({result.pooled.median_ms:.2f} ms vs "
            f"{result.direct.median_ms:.2f} ms): with auth_type scram-sha-256 the auth_file "
            "probably holds plaintext passwords, so PgBouncer hashes every login itself; put the "
            "SCRAM secrets from pg_authid.rolpassword in the auth_file (or use auth_query)"
        )
    else:
        message = (
            f"PgBouncer saves only {reduction:.0f} % per connection (guide: 30-50 %); check that "
            "the auth_file holds SCRAM secrets, not plaintext passwords, and that PgBouncer is not "
            "CPU-starved"
        )
    return CheckResult.failed("pgbouncer.overhead", observed, expected, message)
