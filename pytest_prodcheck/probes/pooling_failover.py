"""Failover: PgBouncer restarted mid-traffic loses no committed transaction and clients recover.

    >>> result = run_failover("postgresql://app:pw@127.0.0.1:6432/ecommerce",
    ...                       verify_dsn="postgresql://app:pw@127.0.0.1:5432/ecommerce",
    ...                       restart=pgbouncer.restart)
    >>> result.committed, result.lost, result.recovered_writers, result.writers
    (412, 0, 4, 4)
    >>> check_failover(result).ok
    True

``writers`` threads insert one row per transaction through PgBouncer into a scratch table
(``prodcheck_failover_<random>``, created and dropped through ``verify_dsn``, a direct connection to
the same database). A writer records a row only once ``COMMIT`` returned; on any error it drops its
connection and reconnects. ``restart`` (any callable: the provider's ``Endpoints.restart`` bound
to ``"pgbouncer"``, ``stack.pgbouncer.pidfile_restarter(ini)``, a ``systemctl restart pgbouncer``
wrapper …) runs while they write; this module starts and stops no process itself. Afterwards every recorded row
must be in the table, and every writer must have committed again within ``recover_timeout`` s.
Check id: ``pgbouncer.failover``.
"""

from __future__ import annotations

import contextlib
import os
import secrets as _random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pytest_prodcheck.core.dsn import connect_error, dsn_password, first_line
from pytest_prodcheck.core.errors import ConfigError, ProdcheckError, ToolError
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.core.secrets import mask_text

__all__ = ["FailoverResult", "check_failover", "run_failover"]


@dataclass(frozen=True)
class FailoverResult:
    writers: int
    committed: int  # transactions whose COMMIT returned
    committed_after_restart: int
    lost: int  # committed but missing afterwards
    errors: int  # failed statements/connects while PgBouncer was away
    recovered_writers: int  # writers that committed again after the restart
    restart_s: float  # how long the restart callable took
    max_recovery_s: float | None  # restart done -> a writer's first commit, worst writer
    error_examples: tuple[str, ...] = field(default=())

    def summary(self) -> str:
        recovery = "never" if self.max_recovery_s is None else f"{self.max_recovery_s:.2f} s"
        return (
            f"{self.committed} transactions committed ({self.committed_after_restart} after the "
            f"restart), {self.lost} lost, {self.errors} client errors during the restart, "
            f"{self.recovered_writers}/{self.writers} writers recovered, restart took "
            f"{self.restart_s:.2f} s, worst recovery {recovery}"
        )


class _Writer(threading.Thread):
    def __init__(self, wid: int, dsn: str, table: str, stop: threading.Event) -> None:
        super().__init__(name=f"prodcheck-failover-{wid}", daemon=True)
        self.wid, self.dsn, self.table, self.stop_event = wid, dsn, table, stop
        # (seq, time the transaction began, time its COMMIT returned)
        self.committed: list[tuple[int, float, float]] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        seq = 0
        self.conn: psycopg.Connection[Any] | None = None
        sql = f"INSERT INTO {self.table} (writer, seq) VALUES (%s, %s)"
        while not self.stop_event.is_set():
            try:
                if conn is None:
                    conn = psycopg.connect(self.dsn, prepare_threshold=None, connect_timeout=3)
                    self.conn = conn
                seq += 1
                began = time.monotonic()
                conn.execute(sql, (self.wid, seq))
                conn.commit()
                with self.lock:
                    self.committed.append((seq, began, time.monotonic()))
            except psycopg.Error as exc:
                self.errors.append(first_line(exc))
                if conn is not None:
                    conn.close()
                conn = self.conn = None
                self.stop_event.wait(0.02)
        if conn is not None:
            conn.close()

    def abort(self) -> None:
        """Unblock a writer stuck waiting on PgBouncer (shut its socket down under libpq)."""
        conn = self.conn
        if conn is None:
            return
        with (
            contextlib.suppress(OSError, psycopg.Error),
            socket.socket(fileno=os.dup(conn.pgconn.socket)) as sock,
        ):
            sock.shutdown(socket.SHUT_RDWR)

    def commits_after(self, t: float) -> list[float]:
        """COMMIT times of transactions that *began* at or after ``t``: a reply that was already
        on its way when PgBouncer stopped does not count as having recovered."""
        with self.lock:
            return [done for _, began, done in self.committed if began >= t]


def run_failover(
    dsn: str,
    verify_dsn: str,
    restart: Callable[[], object],
    writers: int = 4,
    warmup_s: float = 0.5,
    recover_timeout: float = 15.0,
    commits_after: int = 3,
) -> FailoverResult:
    """Write through ``dsn`` (PgBouncer), call ``restart()`` mid-traffic, then verify through
    ``verify_dsn`` (direct) that no committed row is missing and all writers came back."""
    if writers < 1:
        raise ConfigError(f"failover needs at least one writer, got {writers}")
    secrets = [dsn_password(dsn) or "", dsn_password(verify_dsn) or ""]
    table = f"prodcheck_failover_{_random.token_hex(4)}"
    _direct(verify_dsn, f"CREATE TABLE {table} (writer int, seq int, PRIMARY KEY (writer, seq))")
    try:
        threads, restarted, restart_s = _exercise(
            dsn, table, restart, writers, warmup_s, recover_timeout, commits_after, secrets
        )
        rows = _direct(verify_dsn, f"SELECT writer, seq FROM {table}")
    finally:
        with contextlib.suppress(ProdcheckError):
            _direct(verify_dsn, f"DROP TABLE IF EXISTS {table}")
    present = {(int(w), int(s)) for w, s in rows}
    committed = {(t.wid, seq) for t in threads for seq, _began, _done in t.committed}
    firsts = [min(t.commits_after(restarted), default=None) for t in threads]
    recovered = [f - restarted for f in firsts if f is not None]
    errors = [e for t in threads for e in t.errors]
    return FailoverResult(
        writers=writers,
        committed=len(committed),
        committed_after_restart=sum(len(t.commits_after(restarted)) for t in threads),
        lost=len(committed - present),
        errors=len(errors),
        recovered_writers=len(recovered),
        restart_s=restart_s,
        max_recovery_s=max(recovered) if len(recovered) == writers else None,
        error_examples=tuple(dict.fromkeys(mask_text(e, extra=secrets) for e in errors))[:3],
    )


def _direct(verify_dsn: str, sql: str) -> list[tuple[Any, ...]]:
    """One statement over a fresh direct connection (the server may have restarted meanwhile)."""
    try:
        with psycopg.connect(verify_dsn, autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(sql.encode())
            return list(cur.fetchall()) if cur.description else []
    except psycopg.OperationalError as exc:
        raise connect_error(verify_dsn, exc, "PostgreSQL (direct, for verification)") from None
    except psycopg.Error as exc:
        raise ToolError(
            f"failover check: {sql.split()[0]} on the scratch table failed: "
            f"{first_line(exc)}; the app role needs CREATE on its database's public schema"
        ) from None


def _exercise(
    dsn: str,
    table: str,
    restart: Callable[[], object],
    writers: int,
    warmup_s: float,
    recover_timeout: float,
    commits_after: int,
    secrets: list[str],
) -> tuple[list[_Writer], float, float]:
    stop = threading.Event()
    threads = [_Writer(i, dsn, table, stop) for i in range(writers)]
    for t in threads:
        t.start()
    try:
        time.sleep(warmup_s)
        t0 = time.monotonic()
        try:
            restart()
        except ProdcheckError:
            raise
        except Exception as exc:
            raise ToolError(
                f"restarting PgBouncer failed: {mask_text(str(exc), extra=secrets)}"
            ) from None
        restarted = time.monotonic()
        deadline = restarted + recover_timeout
        while time.monotonic() < deadline:
            if all(len(t.commits_after(restarted)) >= commits_after for t in threads):
                break
            time.sleep(0.02)
    finally:
        stop.set()
        for t in threads:
            t.join(0.5)
            if t.is_alive():
                t.abort()
                t.join(5)
    return threads, restarted, restarted - t0


def check_failover(result: FailoverResult, recover_timeout: float = 15.0) -> CheckResult:
    """Pass when nothing committed was lost and every writer committed again after the restart."""
    expected = f"0 committed transactions lost; every client recovers within {recover_timeout:g} s"
    problems = []
    if result.committed == 0:
        problems.append("no transaction committed at all through PgBouncer")
    if result.lost:
        problems.append(f"{result.lost} committed transactions are missing after the restart")
    if result.recovered_writers < result.writers:
        problems.append(
            f"{result.writers - result.recovered_writers} of {result.writers} clients did not "
            f"recover within {recover_timeout:g} s"
            + (f" (last error: {result.error_examples[-1]})" if result.error_examples else "")
        )
    return CheckResult.judge(
        "pgbouncer.failover", not problems, result.summary(), expected, "; ".join(problems)
    )
