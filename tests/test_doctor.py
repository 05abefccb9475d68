"""`prodcheck doctor`: each troubleshooting step shown passing and failing against real sockets and
a real PostgreSQL; passwords never printed."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck import cli, doctor
from pytest_prodcheck.config import Settings
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir
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


def test_backup_dir_exposing_dumps_fails(tmp_path: Path) -> None:
    dump = tmp_path / "main_db_20250128_120000.sql.gz"
    dump.write_bytes(b"\x1f\x8b")
    dump.chmod(0o644)
    tmp_path.chmod(0o755)
    exposed = doctor.check_backup_dir(tmp_path)
    assert not exposed.ok and "main_db_20250128_120000.sql.gz" in exposed.detail
    assert exposed.fix == f"chmod 700 {tmp_path}"
    tmp_path.chmod(0o700)  # dumps unreachable through the directory
    assert doctor.check_backup_dir(tmp_path).ok
    tmp_path.chmod(0o777)
    assert "every user can write" in doctor.check_backup_dir(tmp_path).detail


# -- the command ---------------------------------------------------------------------------------
def _config(tmp_path: Path, dsn: str) -> str:
    backups = tmp_path / "backups"
    backups.mkdir(exist_ok=True)
    path = tmp_path / "prodcheck.toml"
    path.write_text(
        f'target = "external"\n[database]\ndsn = "{dsn}"\n[backup]\ndir = "{backups}"\n'
    )
    return str(path)


def test_cli_exit_0_when_every_step_passes(
    postgres: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = postgres.dsn("postgres", user="postgres")
    assert cli.main(["doctor", "--config", _config(tmp_path, good)]) == 0
    out = capsys.readouterr().out
    assert "✓ database (direct):" in out and out.rstrip().endswith("0 to fix")
    assert postgres.superuser_password not in out


def test_cli_exit_1_with_fix_and_json_without_passwords(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = f"postgresql://app:hunter2secret@127.0.0.1:{free_port()}/ecommerce"
    config = _config(tmp_path, bad)
    assert cli.main(["doctor", "--config", config]) == 1
    captured = capsys.readouterr()
    assert "✗ database (direct):" in captured.out and "fix: check PostgreSQL" in captured.out
    assert captured.out.rstrip().endswith("1 to fix")
    assert "hunter2secret" not in captured.out + captured.err

    assert cli.main(["doctor", "--config", config, "--json"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # the whole stdout is one JSON object
    assert report["ok"] is False
    failed = [f for f in report["findings"] if not f["ok"]]
    assert [f["step"] for f in failed] == ["database (direct)"]
    assert all(f["fix"] == "" for f in report["findings"] if f["ok"])
    assert "hunter2secret" not in captured.out + captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["doctor", "--config", "/nonexistent/prodcheck.toml"],
        [
            "doctor",
            "--target",
            "external",
            "--set",
            "database.dsn='postgresql://a:hunter2secret@h:x/d'",
        ],
        ["doctor", "--bogus"],
    ],
)
def test_cli_bad_input_is_one_line_exit_2(
    argv: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's usage errors exit from inside the parser
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err and "hunter2secret" not in captured.err


def test_pgbouncer_log_errors_are_a_finding_without_passwords(tmp_path: Path) -> None:
    ini = tmp_path / "pgbouncer.ini"
    log = tmp_path / "pgb.log"
    ini.write_text(f"[pgbouncer]\nlisten_port = 6432\nlogfile = {log}\n")
    log.write_text("2026-11-28 14:00:00.000 UTC [7] LOG stats: 0 xacts/s\n")
    ep = Endpoints(target="external", extras={"pgbouncer_ini": str(ini)})
    clean = next(f for f in doctor.diagnose(ep, Settings()) if f.step.startswith("pgbouncer log"))
    assert clean.ok and str(log) in clean.step
    with log.open("a") as out:
        out.write(
            "2026-11-28 14:00:01.000 UTC [7] WARNING C-0x1: ecommerce/app@127.0.0.1:5000 pooler "
            'error: server login failed: FATAL password authentication failed for user "app"\n'
            "2026-11-28 14:00:02.000 UTC [7] ERROR S: login failed: "
            "postgresql://app:hunter2secret@127.0.0.1:5432/ecommerce\n"
        )
    bad = doctor.check_pgbouncer_log(log)
    assert not bad.ok and bad.detail.startswith("2 error line(s)") and "login failed" in bad.detail
    assert "hunter2secret" not in bad.line()
    ini.write_text("[pgbouncer]\nlisten_port = 6432\n")  # no logfile, none beside: syslog
    assert doctor.pgbouncer_log_path(ini) is None
