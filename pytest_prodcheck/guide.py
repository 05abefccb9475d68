"""Numbers from the deployment guide that several layers need, stated once.

    >>> from pytest_prodcheck.guide import LOAD, LOAD_PROFILES, PGBOUNCER
    >>> PGBOUNCER.default_pool_size, PGBOUNCER.pool_mode
    (25, 'transaction')
    >>> LOAD_PROFILES["smoke"].users, LOAD_PROFILES["smoke"].run_time_s
    (10, 120)
    >>> LOAD.p95_ms, LOAD.error_rate, LOAD.min_rps
    (1000, 0.01, 100)

The settings defaults (``config.PgBouncerSettings``, ``config.LoadSettings``,
``config.DEFAULT_PROFILES``), the checks' expectations (``probes.pgbouncer.PgBouncerExpected``,
``load.thresholds.Thresholds``), the library's profiles (``load.profiles.PROFILES``) and the
reference configuration the embedded stack and ``docker/`` render
(``stack.pgbouncer.PgBouncerOptions``) all take their defaults from here.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PgBouncerGuide:
    """The guide's ``pgbouncer.ini`` ("PgBouncer Configuration")."""

    pool_mode: str = "transaction"
    max_client_conn: int = 1000
    default_pool_size: int = 25
    reserve_pool_size: int = 10
    max_db_connections: int = 100
    server_idle_timeout: int = 600
    client_idle_timeout: int = 0
    server_connect_timeout: int = 15


PGBOUNCER = PgBouncerGuide()


@dataclass(frozen=True)
class LoadProfileGuide:
    """One of the guide's load profiles ("Load Testing"); the spawn rate is ours (the guide gives
    none): it ramps the profile within ~10 % of its run time."""

    users: int
    run_time_s: int
    spawn_rate: float
    purpose: str


LOAD_PROFILES: Mapping[str, LoadProfileGuide] = types.MappingProxyType(
    {
        "smoke": LoadProfileGuide(10, 120, 2.0, "quick sanity check"),
        "baseline": LoadProfileGuide(50, 600, 5.0, "performance baseline"),
        "stress": LoadProfileGuide(200, 900, 20.0, "find breaking points"),
        "spike": LoadProfileGuide(500, 300, 100.0, "sudden traffic spikes"),
        "endurance": LoadProfileGuide(100, 3600, 10.0, "memory leaks, stability"),
    }
)


@dataclass(frozen=True)
class LoadThresholdsGuide:
    """The guide's "Performance Thresholds" (AI endpoints have their own percentiles)."""

    p95_ms: int = 1000
    p99_ms: int = 2000
    error_rate: float = 0.01  # < 1 %
    min_rps: int = 100  # > 100 req/s
    ai_p95_ms: int = 3000
    ai_p99_ms: int = 5000
    ai_pattern: str = "^/api/ai/"  # which requests are "AI endpoints" (the shop's convention)


LOAD = LoadThresholdsGuide()
