"""The table of the pooling and database checks: id → callable → group → checklist items.

    >>> from pytest_prodcheck.probes.pooling_checks import POOLING_CHECKS, PoolingInputs
    >>> POOLING_CHECKS.ids()[:2]
    ('pgbouncer.prepared-statements', 'pgbouncer.overhead')
    >>> inputs = PoolingInputs(endpoints, settings)     # the admin console read once
    >>> POOLING_CHECKS.get("postgres.seq-scans").run(inputs).status
    'pass'

``suites/test_pooling.py`` has one test per row (``test_check[postgres.seq-scans]`` …), with the
row's markers and checklist items; ``prodcheck pgbouncer audit`` runs the ``console`` rows after
the configuration audit. Groups name what a check reads: ``console`` (one snapshot of PgBouncer's
admin console: version, SHOW CONFIG, SHOW DATABASES), ``connect`` (times connections on both
paths), ``postgres`` (logs in to PostgreSQL / PgBouncer). A DSN the target does not provide
raises :class:`~pytest_prodcheck.stack.endpoints.MissingEndpoint` naming its key (the suite
skips the test with that line).

Stay hand-written tests in ``suites/test_pooling.py``, with their checklist links: the
configuration audit (one result per ``pgbouncer.ini`` setting, plus the version as evidence),
the monitoring views (evidence only, no verdict), the 1000-client pool cap
(:mod:`~pytest_prodcheck.probes.pooling_load`) and the PgBouncer restart under traffic
(:mod:`~pytest_prodcheck.probes.pooling_failover`).

Adding a check: write ``check_x`` in :mod:`~pytest_prodcheck.probes.pgbouncer` or
:mod:`~pytest_prodcheck.probes.postgres`, add one row here, and a test showing it fail on a
target wrong in exactly that way.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_prodcheck.config import Settings
from pytest_prodcheck.core.checks import CheckSpec, CheckTable, Shared
from pytest_prodcheck.core.pgbouncer_admin import AdminConsole
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes import pooling_overhead, postgres
from pytest_prodcheck.probes.pgbouncer import (
    PgBouncerExpected,
    check_prepared_statements,
    prepares_disabled_by,
)
from pytest_prodcheck.stack.endpoints import Endpoints

__all__ = ["POOLING_CHECKS", "ConsoleSnapshot", "PoolingCheck", "PoolingInputs"]

PGB_DSN = ("pgbouncer_dsn", "[pgbouncer] dsn")
PGB_ADMIN = ("pgbouncer_admin_dsn", "[pgbouncer] admin_dsn")
PG_DSN = ("postgres_dsn", "[database] dsn")
OVERHEAD_CONNECTIONS = 200  # per path


@dataclass(frozen=True)
class ConsoleSnapshot:
    """What the admin console said: ``SHOW VERSION``, ``SHOW CONFIG``, ``SHOW DATABASES``."""

    version: str
    config: dict[str, str]
    databases: list[dict[str, str | None]]

    @classmethod
    def read(cls, admin_dsn: str) -> ConsoleSnapshot:
        with AdminConsole(admin_dsn) as console:
            return cls(console.version(), console.config(), console.databases())


class PoolingInputs:
    """The target's DSNs and ``[pgbouncer]`` settings; the admin console read once, on first use."""

    def __init__(self, stack: Endpoints, settings: Settings) -> None:
        self.stack = stack
        self.settings = settings
        self._console = Shared(lambda: ConsoleSnapshot.read(self.admin_dsn))

    @property
    def admin_dsn(self) -> str:
        return str(self.stack.require(*PGB_ADMIN))

    @property
    def console(self) -> ConsoleSnapshot:
        return self._console.get()

    @property
    def expected(self) -> PgBouncerExpected:
        return PgBouncerExpected.from_settings(self.settings.pgbouncer)

    @property
    def prepares_declared(self) -> str:
        """Who declared that every client disables server-side prepares ("" = nobody)."""
        return prepares_disabled_by(
            self.stack.extras, self.settings.pgbouncer.prepared_statements_disabled
        )

    def password_targets(self) -> list[postgres.LoginTarget]:
        """PostgreSQL, PgBouncer and its admin console, as far as the target names them."""
        stack = self.stack
        targets: list[postgres.LoginTarget] = []
        pg = stack.postgres_dsn or stack.postgres_admin_dsn
        if pg:
            targets.append(postgres.login_target("PostgreSQL", pg))
        if stack.pgbouncer_dsn:
            targets.append(postgres.login_target("PgBouncer", stack.pgbouncer_dsn))
        if stack.pgbouncer_admin_dsn:
            targets.append(
                postgres.login_target("PgBouncer admin console", stack.pgbouncer_admin_dsn)
            )
        if not targets:
            stack.require(*PG_DSN)
        return targets

    def configured_passwords(self) -> dict[str, str]:
        """``{config key: dsn}`` of every database DSN the checks were given with a password."""
        stack = self.stack
        configured = {
            "[database] admin_dsn": stack.postgres_admin_dsn,
            "[database] dsn": stack.postgres_dsn,
            "[database] ai_dsn": stack.postgres_ai_dsn,
            "[pgbouncer] dsn": stack.pgbouncer_dsn,
            "[pgbouncer] admin_dsn": stack.pgbouncer_admin_dsn,
        }
        dsns = {k: v for k, v in configured.items() if v and postgres.dsn_parts(v).get("password")}
        if not dsns:
            stack.require(*PG_DSN)
        return dsns

    def app_databases(self, dsn: str) -> list[str]:
        """The databases the app's DSNs (direct and through PgBouncer) name."""
        s = self.stack
        app_dsns = (dsn, s.postgres_ai_dsn, s.pgbouncer_dsn, s.pgbouncer_ai_dsn)
        return sorted({postgres.dsn_parts(d).get("dbname", "") for d in app_dsns if d})

    def app_dsns(self) -> list[str]:
        """The app's direct DSNs (main, then AI when there is one)."""
        dsns = [str(self.stack.require(*PG_DSN))]
        if self.stack.postgres_ai_dsn:
            dsns.append(self.stack.postgres_ai_dsn)
        return dsns


PoolingCheck = CheckSpec[PoolingInputs]

_PGB = "performance.pgbouncer"
_SMOKE = ("pooling", "smoke")
_SECURITY_SMOKE = ("pooling", "smoke", "security")


def _prepared(i: PoolingInputs) -> CheckResult:
    """PgBouncer < 1.21 (or no max_prepared_statements) breaks drivers that prepare statements,
    accepted only when every client is declared to disable server-side prepares: by the target
    (``extras["app_prepared_statements"] = "disabled"``) or ``[pgbouncer]
    prepared_statements_disabled = true``."""
    snapshot = i.console
    return check_prepared_statements(snapshot.version, snapshot.config, i.prepares_declared)


def _overhead(i: PoolingInputs) -> CheckResult:
    """connect + SELECT 1 + close through PgBouncer costs >= 30 % less than direct."""
    result = pooling_overhead.measure_overhead(
        i.stack.require(*PG_DSN), i.stack.require(*PGB_DSN), n=OVERHEAD_CONNECTIONS
    )
    return pooling_overhead.check_overhead(result, i.settings.pgbouncer.overhead_min_reduction)


def _app_role(i: PoolingInputs) -> CheckResult:
    dsn = str(i.stack.require(*PG_DSN))
    return postgres.check_app_role(dsn, app_databases=i.app_databases(dsn))


def _via_pgbouncer(i: PoolingInputs) -> CheckResult:
    """The app's DATABASE_URL points at PgBouncer (and PgBouncer lists the connection)."""
    app_dsn = i.stack.extras.get("app_database_url") or str(i.stack.require(*PGB_DSN))
    return postgres.check_app_via_pgbouncer(app_dsn, i.stack.pgbouncer_admin_dsn)


def _rows() -> list[PoolingCheck]:
    return [
        CheckSpec("pgbouncer.prepared-statements", _prepared, "console", (_PGB,), _SMOKE,
                  "prepared statements survive transaction pooling"),
        CheckSpec("pgbouncer.overhead", _overhead, "connect", (_PGB,), ("pooling",),
                  "a pooled connection costs >= 30 % less than a direct one"),
        CheckSpec("postgres.default-passwords",
                  lambda i: postgres.check_default_passwords(i.password_targets()), "postgres",
                  ("security.default-passwords",), _SECURITY_SMOKE,
                  "default passwords refused everywhere"),
        CheckSpec("postgres.strong-passwords",
                  lambda i: postgres.check_password_strength(i.configured_passwords()),
                  "postgres", ("predeploy.strong-passwords",), _SECURITY_SMOKE,
                  "every configured password is strong"),
        CheckSpec("postgres.app-role-privileges", _app_role, "postgres",
                  ("security.user-permissions",), _SECURITY_SMOKE,
                  "the app's role is least-privileged"),
        CheckSpec("postgres.app-via-pgbouncer", _via_pgbouncer, "postgres", (_PGB,), _SMOKE,
                  "the app connects through PgBouncer"),
        CheckSpec("postgres.seq-scans", lambda i: postgres.check_seq_scans(i.app_dsns()),
                  "postgres", ("performance.db-indexes",), _SMOKE,
                  "large tables are read through indexes"),
    ]  # fmt: skip


POOLING_CHECKS: CheckTable[PoolingInputs] = CheckTable("pooling", _rows())
