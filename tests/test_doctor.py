"""`prodcheck doctor`: each troubleshooting step shown passing and failing against real sockets and
a real PostgreSQL; passwords never printed."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck import doctor
from pytest_prodcheck.config import Settings
from pytest_prodcheck.stack._proc import free_port, make_tempdir
from pytest_prodcheck.stack.endpoints import Endpoints
from pytest_prodcheck.stack.postgres import PostgresServer


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(make_tempdir("doctor-pg-"), migrate=False).start()
    yield server
    server.stop()


def test_dns_pinned_resolvable_and_unresolvable() -> None:
    assert doctor.check_dns("shop.test", {("shop.test", 443): "127.0.0.1"}).ok
    assert doctor.check_dns("localhost", {}).ok
    missing = doctor.check_dns("no-such-host.invalid", {})
    assert not missing.ok and "A record" in missing.fix


def test_port_open_and_closed() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert doctor.check_port(f"https://shop.test:{port}", {("shop.test", port): "127.0.0.1"}).ok
    closed = doctor.check_port(f"http://127.0.0.1:{free_port()}", {})
    assert not closed.ok and "firewall" in closed.fix


def test_backup_dir_states(tmp_path: Path) -> None:
    assert doctor.check_backup_dir(tmp_path).ok
    missing = doctor.check_backup_dir(tmp_path / "nope")
    assert not missing.ok and "mkdir -p" in missing.fix


def test_diagnose_reports_database_up_and_down_without_leaking_passwords(
    postgres: PostgresServer,
) -> None:
    good = postgres.dsn("postgres", user="postgres")
    bad = f"postgresql://app:hunter2secret@127.0.0.1:{free_port()}/ecommerce"
    ep = Endpoints(target="external", postgres_dsn=good, pgbouncer_dsn=bad)
    findings = {f.step: f for f in doctor.diagnose(ep, Settings())}
    assert findings["database (direct)"].ok
    down = findings["database (via pgbouncer)"]
    assert not down.ok and "PgBouncer" in down.fix
    text = "\n".join(f.line() for f in findings.values())
    assert "hunter2secret" not in text and postgres.superuser_password not in text


def test_acme_directory_unreachable_is_a_finding() -> None:
    ep = Endpoints(target="external", acme_directory=f"https://127.0.0.1:{free_port()}/dir")
    finding = next(f for f in doctor.diagnose(ep, Settings()) if f.step == "acme directory")
    assert not finding.ok and "ACME" in finding.fix
