"""Numbers from the deployment guide that several layers need, stated once.

    >>> from pytest_prodcheck.guide import PGBOUNCER
    >>> PGBOUNCER.default_pool_size, PGBOUNCER.pool_mode
    (25, 'transaction')

The settings defaults (``config.PgBouncerSettings``), the checks' expectations
(``probes.pgbouncer.PgBouncerExpected``) and the reference configuration the embedded stack and
``docker/`` render (``stack.pgbouncer.PgBouncerOptions``) all take their defaults from here.
"""

from __future__ import annotations

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
