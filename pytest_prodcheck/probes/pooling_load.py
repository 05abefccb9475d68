"""Does the pool really cap the server? N clients at once through PgBouncer, PostgreSQL watched.

    >>> result = run_pool_cap(["postgresql://app:pw@127.0.0.1:6432/ecommerce"],
    ...                       sampler_dsn="postgresql://app:pw@127.0.0.1:5432/ecommerce",
    ...                       clients=1000)
    >>> result.peak_per_database, result.failures, round(result.wall_s, 1)
    ({'ecommerce': 25}, 0, 3.1)
    >>> check_pool_caps_server(result, max_db_connections=100).ok
    True

Every client is a psycopg ``AsyncConnection`` (autocommit, ``prepare_threshold=None`` as PgBouncer's
transaction pooling requires); all of them are connected at the same moment (an ``asyncio.Barrier``)
before each runs its queries. Meanwhile a direct connection samples ``pg_stat_activity`` every
~10 ms in a thread and keeps the peak number of server connections per database (client backends
of the users of the given DSNs). Check id: ``pgbouncer.pool-caps-server``.

The process needs one file descriptor per client: the soft ``RLIMIT_NOFILE`` is raised to the hard
limit when needed, and a hard limit that is too low is reported with what to change.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pytest_prodcheck.core.dsn import Dsn, connect_error, dsn_password, first_line
from pytest_prodcheck.core.errors import ConfigError, ToolError
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.core.secrets import mask_text

__all__ = [
    "ClientPlan",
    "PoolCapResult",
    "check_pool_caps_server",
    "ensure_fd_limit",
    "plan_clients",
    "run_pool_cap",
]

FD_HEADROOM = 128  # sockets, log files, the sampler, pytest's own files

_SAMPLE_SQL = (
    "SELECT datname, count(*) FROM pg_stat_activity "
    "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
    "AND datname = ANY(%s) AND usename = ANY(%s) GROUP BY datname"
)


@dataclass(frozen=True)
class PoolCapResult:
    """What happened when ``clients`` clients hit PgBouncer at once."""

    clients: int
    failures: int
    peak_per_database: dict[str, int]
    wall_s: float
    connect_p50_s: float
    samples: int
    queries_per_client: int
    fd_limit: tuple[int, int]
    failure_examples: tuple[str, ...] = field(default=())
    refused: int = 0  # clients PgBouncer turned away at its max_client_conn cap

    @property
    def peak_total(self) -> int:
        return sum(self.peak_per_database.values())

    def summary(self) -> str:
        peaks = ", ".join(f"{db}={n}" for db, n in sorted(self.peak_per_database.items())) or "none"
        refused = f" ({self.refused} refused at max_client_conn)" if self.refused else ""
        return (
            f"{self.clients} clients, {self.failures} failed{refused}, "
            f"peak server connections per database: {peaks}, "
            f"wall {self.wall_s:.2f} s, "
            f"median connect {self.connect_p50_s:.2f} s, {self.samples} samples, "
            f"fd limit {_limit(self.fd_limit[0])}/{_limit(self.fd_limit[1])}"
        )


REFUSED_MARK = "max_client_conn"  # PgBouncer: "no more connections allowed (max_client_conn)"


@dataclass(frozen=True)
class ClientPlan:
    """How many clients a run connects, and why (never fewer than wanted without saying so).

    >>> plan_clients(1000, max_client_conn=100, existing=0).clients   # tried anyway: refusals fail
    1000
    >>> plan_clients(1000, max_client_conn=1000, existing=37).note
    '963 clients + 37 already connected = 1000 at the bouncer (max_client_conn=1000)'
    """

    wanted: int
    clients: int
    max_client_conn: int | None
    existing: int

    @property
    def note(self) -> str:
        cap = f"max_client_conn={self.max_client_conn}" if self.max_client_conn else "cap unknown"
        if self.clients < self.wanted:
            return (
                f"{self.clients} clients + {self.existing} already connected = "
                f"{self.clients + self.existing} at the bouncer ({cap})"
            )
        return f"{self.clients} clients, {self.existing} already connected ({cap})"


def plan_clients(wanted: int, max_client_conn: int | None, existing: int = 0) -> ClientPlan:
    """``wanted`` clients; only when the cap admits ``wanted`` and other clients already hold
    slots does the run connect fewer, so that the bouncer still holds ``wanted`` at once. A cap
    below ``wanted`` is tried anyway: what the bouncer refuses fails the check."""
    clients = wanted
    if max_client_conn and max_client_conn >= wanted and existing:
        clients = max(1, min(wanted, max_client_conn - existing))
    return ClientPlan(wanted, clients, max_client_conn, existing)


def _limit(n: int) -> str:
    return "unlimited" if n == resource.RLIM_INFINITY else str(n)


def ensure_fd_limit(needed: int) -> tuple[int, int]:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit if ``needed`` exceeds it.

    Returns the (soft, hard) limit in force. Raises :class:`ToolError` when even the hard limit is
    too low, saying what to change.

    >>> ensure_fd_limit(1128)
    (20000, 20000)
    """
    inf = resource.RLIM_INFINITY
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    refused = ""
    if soft != inf and soft < needed:
        # an unlimited hard limit cannot be the soft one (the kernel caps it at fs.nr_open)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed if hard == inf else hard, hard))
        except (ValueError, OSError) as exc:
            refused = f" (setrlimit refused: {exc})"
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != inf and soft < needed:
        limit = "unlimited" if hard == inf else str(hard)
        raise ToolError(
            f"{needed} file descriptors are needed ([pgbouncer] clients + {FD_HEADROOM}) but only "
            f"{soft} are allowed: the hard limit (RLIMIT_NOFILE) is {limit}{refused}; "
            f"raise it (ulimit -Hn {needed} as root, LimitNOFILE= in systemd, nofile in "
            "/etc/security/limits.conf, or docker --ulimit nofile=...) or run fewer clients "
            "([pgbouncer] clients); PgBouncer itself needs about max_client_conn * 1.5 "
            "descriptors too"
        )
    return soft, hard


class _Sampler(threading.Thread):
    """Samples ``pg_stat_activity`` every ``interval`` s over a direct connection."""

    def __init__(
        self, conn: psycopg.Connection[Any], dbs: list[str], users: list[str], interval: float
    ):
        super().__init__(name="prodcheck-pg-sampler", daemon=True)
        self.conn, self.dbs, self.users, self.interval = conn, dbs, users, interval
        self.peak: dict[str, int] = dict.fromkeys(dbs, 0)
        self.samples = 0
        self.error: str | None = None
        self._stop_event = threading.Event()

    def sample(self) -> None:
        rows = self.conn.execute(_SAMPLE_SQL, [self.dbs, self.users]).fetchall()
        for db, count in rows:
            self.peak[db] = max(self.peak.get(db, 0), int(count))
        self.samples += 1

    def run(self) -> None:
        try:
            while not self._stop_event.is_set():
                self.sample()
                self._stop_event.wait(self.interval)
            self.sample()
        except psycopg.Error as exc:
            self.error = first_line(exc)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)


def _target(dsn: str) -> tuple[str, str]:
    parsed = Dsn.parse(dsn, "PgBouncer DSN")
    if not parsed.dbname or not parsed.user:
        raise ConfigError(
            "each PgBouncer DSN must name its database and user (postgresql://user:pw@host:port/db)"
        )
    return parsed.dbname, parsed.user


async def _run_clients(
    dsns: Sequence[str],
    clients: int,
    queries: int,
    query: str,
    connect_timeout: float,
) -> tuple[int, list[float], list[str]]:
    barrier = asyncio.Barrier(clients)
    connect_times: list[float] = []
    errors: list[str] = []
    barrier_timeout = connect_timeout + 5

    async def one(i: int) -> None:
        dsn = dsns[i % len(dsns)]
        conn: psycopg.AsyncConnection[Any] | None = None
        t0 = time.perf_counter()
        try:
            conn = await psycopg.AsyncConnection.connect(
                dsn,
                autocommit=True,
                prepare_threshold=None,
                connect_timeout=max(1, round(connect_timeout)),
            )
            connect_times.append(time.perf_counter() - t0)
        except psycopg.Error as exc:
            errors.append(f"connect: {first_line(exc)}")
        try:
            try:
                await asyncio.wait_for(barrier.wait(), barrier_timeout)
            except (TimeoutError, asyncio.BrokenBarrierError):
                await barrier.abort()
            if conn is None:
                return
            for _ in range(queries):
                await conn.execute(query)
        except psycopg.Error as exc:
            errors.append(f"query: {first_line(exc)}")
        finally:
            if conn is not None:
                await conn.close()

    await asyncio.gather(*(one(i) for i in range(clients)))
    return len(errors), connect_times, errors


def run_pool_cap(
    dsns: Sequence[str],
    sampler_dsn: str,
    clients: int = 1000,
    queries: int = 3,
    query: str = "SELECT pg_sleep(0.02)",
    connect_timeout: float = 60.0,
    sample_interval: float = 0.01,
) -> PoolCapResult:
    """Connect ``clients`` clients through PgBouncer (spread round-robin over ``dsns``) at once,
    run ``queries`` queries each, and record the peak server connections per database seen
    through ``sampler_dsn`` (a direct PostgreSQL connection)."""
    if clients < 1:
        raise ConfigError(f"[pgbouncer] clients must be >= 1, got {clients}")
    if not dsns:
        raise ConfigError("no PgBouncer DSN to connect clients to: set [pgbouncer] dsn")
    targets = [_target(d) for d in dsns]
    dbs = sorted({db for db, _ in targets})
    users = sorted({user for _, user in targets})
    limits = ensure_fd_limit(clients + FD_HEADROOM)
    try:
        sampler_conn = psycopg.connect(sampler_dsn, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise connect_error(sampler_dsn, exc, "PostgreSQL (direct, for sampling)") from None
    secrets = [dsn_password(d) or "" for d in (*dsns, sampler_dsn)]
    sampler = _Sampler(sampler_conn, dbs, users, sample_interval)
    try:
        sampler.start()
        t0 = time.perf_counter()
        try:
            failures, connect_times, errors = asyncio.run(
                _run_clients(dsns, clients, queries, query, connect_timeout)
            )
        finally:
            wall = time.perf_counter() - t0
            sampler.stop()
    finally:
        sampler_conn.close()
    if sampler.error is not None:
        raise ToolError(
            f"sampling pg_stat_activity failed: {mask_text(sampler.error, extra=secrets)}"
        )
    examples = tuple(dict.fromkeys(mask_text(e, extra=secrets) for e in errors))[:5]
    refused = sum(REFUSED_MARK in e for e in errors)
    return PoolCapResult(
        clients=clients,
        failures=failures,
        peak_per_database=dict(sampler.peak),
        wall_s=wall,
        connect_p50_s=statistics.median(connect_times) if connect_times else float("nan"),
        samples=sampler.samples,
        queries_per_client=queries,
        fd_limit=limits,
        failure_examples=examples,
        refused=refused,
    )


def check_pool_caps_server(
    result: PoolCapResult, max_db_connections: int, plan: ClientPlan | None = None
) -> CheckResult:
    """Pass when no client failed and no database saw more than ``max_db_connections``;
    ``plan`` (from :func:`plan_clients`) names the cap when the bouncer refused clients."""
    wanted = plan.wanted if plan else result.clients
    expected = (
        f"{wanted} clients at once ([pgbouncer] clients), 0 fail; "
        f"<= {max_db_connections} server connections per database"
    )
    over = {db: n for db, n in result.peak_per_database.items() if n > max_db_connections}
    problems = []
    if over:
        problems.append(
            "PostgreSQL saw more server connections than max_db_connections="
            f"{max_db_connections}: " + ", ".join(f"{db}={n}" for db, n in sorted(over.items()))
        )
    cap = plan.max_client_conn if plan else None
    if result.refused and cap is not None and cap < wanted:
        problems.append(
            f"PgBouncer refused {result.refused} of {result.clients} clients with 'no more "
            f"connections allowed (max_client_conn)': max_client_conn = {cap} is below the "
            f"{wanted} concurrent clients the guide requires; set max_client_conn = {wanted} in "
            "pgbouncer.ini (or lower [pgbouncer] clients to the load you accept)"
        )
    elif result.refused and plan is not None:
        problems.append(
            f"PgBouncer refused {result.refused} of {result.clients} clients at "
            f"max_client_conn = {cap}: {plan.existing} other clients were connected when the "
            "test started and more arrived during it; run it when the app is quiet"
        )
    elif result.failures:
        problems.append(
            f"{result.failures} of {result.clients} clients failed (e.g. "
            + "; ".join(result.failure_examples[:2])
            + "): PgBouncer refuses clients beyond max_client_conn and drops or stalls them "
            "when it runs out of file descriptors (its own nofile limit must cover "
            "max_client_conn + server connections; it logs 'kernel file descriptor limit' "
            "at start)"
        )
    if result.samples < 3:
        problems.append(f"only {result.samples} samples of pg_stat_activity: peak not trustworthy")
    return CheckResult.judge(
        "pgbouncer.pool-caps-server", not problems, result.summary(), expected, "; ".join(problems)
    )
