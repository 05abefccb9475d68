"""PgBouncer checks through its admin console: configuration audit, version risks, monitoring.

    >>> expected = PgBouncerExpected()          # the guide's values (pool_mode transaction, ...)
    >>> with AdminConsole("postgresql://pgb_admin:pw@127.0.0.1:6432/pgbouncer") as console:
    ...     results = audit_config(console.config(), console.databases(), expected)
    ...     risk = check_prepared_statements(console.version(), console.config())
    ...     pools = console.show("POOLS")                 # Table(columns, rows)
    >>> [r.id for r in results if not r.ok]
    ['pgbouncer.config.pool_mode']

The console client itself (:class:`~pytest_prodcheck.core.pgbouncer_admin.AdminConsole`,
``Table``) lives in ``core/pgbouncer_admin.py``. Check ids:

- ``pgbouncer.config.<setting>`` for each guide setting, ``pgbouncer.config.databases`` for
  per-database overrides in ``[databases]`` that undo the global values;
- ``pgbouncer.prepared-statements``: transaction pooling with a PgBouncer that cannot keep
  prepared statements (< 1.21, or ≥ 1.21 without ``max_prepared_statements``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.core.pgbouncer_admin import AdminConsole, Table
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.guide import PGBOUNCER

__all__ = [
    "APP_PREPARES_EXTRA",
    "MONITORING_VIEWS",
    "PgBouncerExpected",
    "audit_config",
    "check_prepared_statements",
    "monitoring_snapshot",
    "parse_version",
    "prepares_disabled_by",
]

#: The guide's monitoring commands, recorded as evidence by :func:`monitoring_snapshot`.
MONITORING_VIEWS: tuple[str, ...] = ("STATS", "POOLS", "CLIENTS", "SERVERS")

_DRIVER_FIX = (
    "upgrade PgBouncer to >= 1.21 and set max_prepared_statements (e.g. 100), or disable "
    "server-side prepared statements in every client (psycopg 3: prepare_threshold=None; "
    "asyncpg: statement_cache_size=0; JDBC: prepareThreshold=0)"
)


@dataclass(frozen=True)
class PgBouncerExpected:
    """Expected PgBouncer settings; defaults are the deployment guide's ``pgbouncer.ini``.

    >>> PgBouncerExpected(default_pool_size=20).pool_mode
    'transaction'
    """

    pool_mode: str = PGBOUNCER.pool_mode
    max_client_conn: int = PGBOUNCER.max_client_conn
    default_pool_size: int = PGBOUNCER.default_pool_size
    reserve_pool_size: int = PGBOUNCER.reserve_pool_size
    max_db_connections: int = PGBOUNCER.max_db_connections
    server_idle_timeout: int = PGBOUNCER.server_idle_timeout
    client_idle_timeout: int = PGBOUNCER.client_idle_timeout
    server_connect_timeout: int = PGBOUNCER.server_connect_timeout

    @classmethod
    def from_settings(cls, section: object | None) -> PgBouncerExpected:
        """Build from the ``[pgbouncer]`` settings section, reading each attribute if present."""
        if section is None:
            return cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            if hasattr(section, f.name):
                value = getattr(section, f.name)
                if value is not None:
                    values[f.name] = value if f.name == "pool_mode" else int(value)
        return cls(**values)

    def items(self) -> list[tuple[str, str | int]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


_STATS_COLUMNS = ("total_xact_count", "total_query_count", "avg_xact_time", "avg_query_time")
_POOLS_COLUMNS = ("cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used", "maxwait")
_MAX_ROWS = 20


def _per_pool(table: Table, values: tuple[str, ...]) -> str:
    """``db/user: k=v …; …`` for each row of the app's pools (the admin database left out)."""
    rows = [r for r in table.dicts() if r.get("database") != "pgbouncer"]
    parts = []
    for row in rows[:_MAX_ROWS]:
        name = str(row.get("database")) + (f"/{row['user']}" if row.get("user") else "")
        shown = " ".join(
            f"{v}={row[v]}" + ("us" if v.endswith("_time") else "") for v in values if v in row
        )
        parts.append(
            f"{name}: {shown}" + (f" pool_mode={row['pool_mode']}" if "pool_mode" in row else "")
        )
    more = f" (+{len(rows) - _MAX_ROWS} more)" if len(rows) > _MAX_ROWS else ""
    return ("; ".join(parts) + more) if parts else "no rows"


def _connections(table: Table) -> str:
    """``N connections: db/user state=count …`` (SHOW CLIENTS / SHOW SERVERS, admin left out)."""
    rows = [r for r in table.dicts() if r.get("database") != "pgbouncer"]
    groups: dict[str, dict[str, int]] = {}
    for row in rows:
        states = groups.setdefault(f"{row.get('database')}/{row.get('user')}", {})
        state = str(row.get("state"))
        states[state] = states.get(state, 0) + 1
    detail = "; ".join(
        f"{name}: " + " ".join(f"{state}={n}" for state, n in sorted(states.items()))
        for name, states in sorted(groups.items())
    )
    return f"{len(rows)} connections" + (f" ({detail})" if detail else "")


def monitoring_snapshot(console: AdminConsole) -> dict[str, str]:
    """The guide's monitoring commands as one-line evidence each, the admin database left out.

    >>> monitoring_snapshot(console)["SHOW POOLS"]
    'ecommerce/app: cl_active=3 cl_waiting=0 sv_active=2 sv_idle=1 sv_used=0 maxwait=0 pool_mode=transaction'
    """
    stats, pools = console.show("STATS"), console.show("POOLS")
    clients, servers = console.show("CLIENTS"), console.show("SERVERS")
    missing = [
        c for c in ("total_xact_count", "cl_active") if c not in stats.columns + pools.columns
    ]
    if missing:
        raise ToolError(f"PgBouncer SHOW STATS/POOLS lack the columns {', '.join(missing)}")
    return {
        "SHOW STATS": _per_pool(stats, _STATS_COLUMNS),
        "SHOW POOLS": _per_pool(pools, _POOLS_COLUMNS),
        "SHOW CLIENTS": _connections(clients),
        "SHOW SERVERS": _connections(servers),
    }


def parse_version(text: str) -> tuple[int, int, int]:
    """``'PgBouncer 1.18.0'`` → ``(1, 18, 0)``; unknown → ``(0, 0, 0)``.

    >>> parse_version("PgBouncer 1.21.0 libevent 2.1.12")
    (1, 21, 0)
    """
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return (0, 0, 0)
    return (int(m[1]), int(m[2]), int(m[3] or 0))


def _same(observed: str | None, expected: str | int) -> bool:
    if observed is None:
        return False
    if isinstance(expected, int):
        try:
            return float(observed) == float(expected)
        except ValueError:
            return False
    return observed.strip().lower() == str(expected).lower()


def _show_value(observed: str | None) -> str:
    if observed is None:
        return "absent"
    # SHOW CONFIG prints time settings as e.g. "600" (s); keep integers as integers
    try:
        number = float(observed)
    except ValueError:
        return observed
    return str(int(number)) if number.is_integer() else observed


def audit_config(
    config: Mapping[str, str],
    databases: Sequence[Mapping[str, str | None]],
    expected: PgBouncerExpected,
) -> list[CheckResult]:
    """Compare ``SHOW CONFIG`` / ``SHOW DATABASES`` with the expected settings.

    One result per setting (``pgbouncer.config.<setting>``) plus ``pgbouncer.config.databases``
    for per-database overrides (pool_mode, pool_size, max_db_connections in ``[databases]``).
    """
    results = []
    for key, want in expected.items():
        got = config.get(key)
        ok = _same(got, want)
        message = "" if ok else f"{key} is {_show_value(got)}, expected {want}"
        if not ok and key == "max_db_connections" and _same(got, 0):
            message += " (0 = unlimited: PostgreSQL is not protected from pool growth)"
        if not ok and key == "pool_mode":
            message += (
                " (session pooling holds a server connection per client: no pooling for web apps)"
            )
        results.append(
            CheckResult.judge(f"pgbouncer.config.{key}", ok, _show_value(got), str(want), message)
        )
    results.append(_audit_databases(databases, config, expected))
    return results


def _audit_databases(
    databases: Sequence[Mapping[str, str | None]],
    config: Mapping[str, str],
    expected: PgBouncerExpected,
) -> CheckResult:
    # SHOW DATABASES prints effective values; only real overrides (different from the global
    # setting, which has its own check) and different from the expectation are reported here.
    columns = (
        ("pool_mode", "pool_mode", expected.pool_mode),
        ("pool_size", "default_pool_size", expected.default_pool_size),
        ("max_connections", "max_db_connections", expected.max_db_connections),
    )
    problems = []
    for db in databases:
        name = db.get("name") or "?"
        for column, key, want in columns:
            value = db.get(column)
            if not value or _same(value, want) or _same(value, config.get(key, "")):
                continue
            problems.append(f"{name}: {key}={value}")
    names = ", ".join(db.get("name") or "?" for db in databases) or "none"
    expected_text = (
        f"every database: pool_mode={expected.pool_mode}, pool_size={expected.default_pool_size}, "
        f"max_db_connections={expected.max_db_connections}"
    )
    if not databases:
        return CheckResult.failed(
            "pgbouncer.config.databases",
            "no databases",
            expected_text,
            "PgBouncer serves no database",
        )
    if problems:
        return CheckResult.failed(
            "pgbouncer.config.databases",
            "; ".join(problems),
            expected_text,
            "per-database settings override the expected values: " + "; ".join(problems),
        )
    return CheckResult.passed(
        "pgbouncer.config.databases", f"databases {names} as expected", expected_text
    )


#: ``Endpoints.extras`` key by which a stack provider declares what its app does with server-side
#: prepared statements: ``"disabled"`` when every client it runs turns them off.
APP_PREPARES_EXTRA = "app_prepared_statements"


def prepares_disabled_by(extras: Mapping[str, str], setting: bool) -> str:
    """Who declared that every client disables server-side prepares ("" = nobody).

    >>> prepares_disabled_by({"app_prepared_statements": "disabled"}, False)
    'the target (extras app_prepared_statements=disabled)'
    """
    if setting:
        return "[pgbouncer] prepared_statements_disabled = true"
    if str(extras.get(APP_PREPARES_EXTRA, "")).strip().lower() == "disabled":
        return f"the target (extras {APP_PREPARES_EXTRA}=disabled)"
    return ""


def check_prepared_statements(
    version: str, config: Mapping[str, str], prepares_disabled: str = ""
) -> CheckResult:
    """Flag transaction pooling where prepared statements break (PgBouncer < 1.21, or no
    ``max_prepared_statements``), unless every client is declared to disable server-side
    prepares: ``prepares_disabled`` names who declared it (see :func:`prepares_disabled_by`).

    >>> check_prepared_statements("PgBouncer 1.18.0", {"pool_mode": "transaction"}).status
    'fail'
    """
    cid = "pgbouncer.prepared-statements"
    mode = (config.get("pool_mode") or "").lower()
    expected = "PgBouncer >= 1.21 with max_prepared_statements > 0 under transaction pooling"
    ver = parse_version(version)
    ver_text = ".".join(map(str, ver))
    if mode not in ("transaction", "statement"):
        return CheckResult.not_applicable(
            cid,
            f"pool_mode is {mode or 'unknown'}: prepared statements survive session pooling",
            expected,
        )
    mps = config.get("max_prepared_statements")
    if ver >= (1, 21, 0) and mps is not None and _same_positive(mps):
        return CheckResult.passed(
            cid, f"PgBouncer {ver_text}, max_prepared_statements={mps}", expected
        )
    if ver < (1, 21, 0):
        observed = f"PgBouncer {ver_text} < 1.21 with pool_mode={mode}"
        why = "cannot track prepared statements"
    else:
        observed = f"PgBouncer {ver_text} with pool_mode={mode}, max_prepared_statements={mps or 0}"
        why = "has prepared-statement support switched off (max_prepared_statements = 0)"
    if prepares_disabled:
        return CheckResult.passed(
            cid,
            f"{observed}; clients disable server-side prepares (declared by {prepares_disabled})",
            expected,
            f"PgBouncer {why}; accepted because every client disables server-side prepared "
            f"statements (e.g. psycopg prepare_threshold=None), declared by {prepares_disabled}",
        )
    return CheckResult.failed(
        cid,
        observed,
        expected,
        f"PgBouncer {why} under {mode} pooling: drivers that prepare (psycopg 3 after 5 runs, "
        "asyncpg, JDBC) fail with 'prepared statement \"…\" does not exist'; fix: "
        + _DRIVER_FIX
        + "; if every client already does, declare it: [pgbouncer] prepared_statements_disabled "
        f"= true (a stack provider: extras {APP_PREPARES_EXTRA}=disabled)",
    )


def _same_positive(value: str) -> bool:
    try:
        return float(value) > 0
    except ValueError:
        return False
