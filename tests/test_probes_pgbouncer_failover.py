"""probes/pooling_failover.py: a real PgBouncer restarted while writers commit through it."""

from __future__ import annotations

import pytest

from pytest_prodcheck.core.errors import ToolError
from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.probes.pooling_failover import FailoverResult, check_failover, run_failover
from pytest_prodcheck.stack.pgbouncer import PgBouncerServer, pidfile_restarter
from pytest_prodcheck.stack.postgres import PostgresServer


@pytest.fixture
def pgb(pg):
    b = PgBouncerServer(make_tempdir("pgb-"), pg).start()
    yield b
    b.stop()


def test_restart_mid_traffic_loses_nothing_and_clients_recover(pg, pgb):
    result = run_failover(pgb.dsn(), pg.dsn("ecommerce"), pgb.restart, writers=4, warmup_s=0.3)
    check = check_failover(result)
    assert check.status == "pass", check.message
    assert result.lost == 0 and result.recovered_writers == 4
    assert result.committed > result.committed_after_restart > 0
    # the scratch table is gone again
    assert not pg.query(
        "SELECT 1 FROM pg_tables WHERE tablename LIKE 'prodcheck_failover_%'", db="ecommerce"
    )


def test_pgbouncer_that_does_not_come_back_fails(pg, pgb):
    result = run_failover(
        pgb.dsn(), pg.dsn("ecommerce"), pgb.stop, writers=2, warmup_s=0.2, recover_timeout=1.5
    )
    check = check_failover(result, recover_timeout=1.5)
    assert check.status == "fail"
    assert result.recovered_writers == 0 and result.max_recovery_s is None
    assert "2 of 2 clients did not recover within 1.5 s" in check.message
    assert "Connection refused" in check.message


def test_lost_commits_fail():
    result = FailoverResult(
        writers=2,
        committed=100,
        committed_after_restart=10,
        lost=3,
        errors=2,
        recovered_writers=2,
        restart_s=0.1,
        max_recovery_s=0.2,
    )
    check = check_failover(result)
    assert check.status == "fail" and "3 committed transactions are missing" in check.message


def test_a_failing_restart_handle_is_a_tool_error(pg, pgb):
    def broken() -> None:
        raise RuntimeError("systemctl: unit pgbouncer.service not found")

    with pytest.raises(ToolError, match="restarting PgBouncer failed: systemctl"):
        run_failover(pgb.dsn(), pg.dsn("ecommerce"), broken, writers=1, warmup_s=0.05)


def test_a_crash_that_drops_acknowledged_commits_is_caught():
    """A target wrong in exactly that way: commits acknowledged before they are durable
    (synchronous_commit=off with a lazy WAL writer) and the server crashing mid-traffic."""
    settings = {
        "synchronous_commit": "off",
        "wal_writer_delay": "10000ms",
        "wal_writer_flush_after": "0",
    }
    pg = PostgresServer(make_tempdir("pg-"), settings=settings).start()
    pgb = PgBouncerServer(make_tempdir("pgb-"), pg).start()

    def crash_and_restart_postgres() -> None:
        pg.stop("immediate")  # SIGQUIT: un-flushed WAL is gone
        pg._start_process()  # same data dir, crash recovery

    try:
        result = run_failover(
            pgb.dsn(),
            pg.dsn("ecommerce"),
            crash_and_restart_postgres,
            writers=4,
            warmup_s=0.3,
            recover_timeout=1.0,
        )
    finally:
        pgb.stop()
        pg.destroy()
    check = check_failover(result, recover_timeout=1.0)
    assert check.status == "fail"
    assert result.lost > 0, result.summary()
    assert "committed transactions are missing after the restart" in check.message


def test_pidfile_restarter_restarts_our_pgbouncer_in_place(pg, pgb):
    """The restart handle the suite uses on the local target (what systemctl restart does):
    the PgBouncerServer (LocalStack.pgbouncer) keeps a handle on the live, restarted process."""
    process, old_pid = pgb.process, pgb.process.pid
    result = run_failover(
        pgb.dsn(), pg.dsn("ecommerce"), pidfile_restarter(pgb.ini_path), writers=3, warmup_s=0.3
    )
    check = check_failover(result)
    assert check.status == "pass", check.message
    new_pid = int((pgb.workdir / "pgbouncer.pid").read_text())
    assert new_pid != old_pid
    assert pgb.process is process and process.alive and process.pid == new_pid
    pgb.reload()  # works on the restarted process (it said "not running" before)
    pgb.stop()  # and stop() stops the new one: nothing outlives the test
    assert not process.alive
