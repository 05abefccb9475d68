"""The CLI under bad input: one line naming the problem, exit 2 (usage) or 3 (unreachable);
``--config`` accepted by every command; key=value DSNs accepted wherever a DSN is."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck import cli
from pytest_prodcheck.backup.settings import BackupConfig
from pytest_prodcheck.config import load_settings
from pytest_prodcheck.core.pgbouncer_admin import AdminConsole

BINARY = b"\xff\xfe\x00\x81binary\x00\xc3\x28"


def _one_error_line(capsys: pytest.CaptureFixture[str], fragment: str) -> str:
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("prodcheck: error: ") and fragment in lines[0], lines[0]
    assert "unexpected" not in lines[0] and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["checklist", "--no-collect", "--config", "{bin}"],
        ["backups", "list", "--config", "{bin}"],
        ["attest", "security.firewall", "--by", "a", "--evidence",
         "https://t.example/1", "--file", "{bin}"],
        ["cron", "show", "--crontab-file", "{tab}", "--config", "{bin}"],
        ["tls", "list", "--config", "{bin}"],
    ],
)  # fmt: skip
def test_a_binary_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    binary = tmp_path / "settings.toml"
    binary.write_bytes(BINARY)
    args = [a.format(bin=binary, tab=tmp_path / "crontab") for a in argv]
    assert cli.main(args) == 2
    line = _one_error_line(capsys, str(binary))
    assert "not UTF-8" in line


def test_cron_show_and_remove_take_config_like_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "prodcheck.toml"
    config.write_text("[backup]\nretain_days = 7\n")
    tab = tmp_path / "crontab"
    assert cli.main(["cron", "show", "--crontab-file", str(tab), "--config", str(config)]) == 1
    assert "no prodcheck jobs" in capsys.readouterr().out  # parsed and run, not refused
    assert (
        cli.main(["cron", "remove", "backup", "--crontab-file", str(tab), "--config", str(config)])
        == 1
    )
    assert cli.main(["tls", "list", "--config", str(config)]) == 0


@pytest.fixture
def plain_http_port() -> Iterator[int]:
    """A port that answers in plain text (not TLS), closed at the end."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(srv.getsockname()[1])
    stop.set()
    thread.join(5)
    srv.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("kind", ["closed", "plain"])
def test_tls_check_of_an_unreachable_or_non_tls_port_is_one_line_exit_3(
    request: pytest.FixtureRequest, kind: str
) -> None:
    port = request.getfixturevalue("plain_http_port") if kind == "plain" else _free_port()
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_prodcheck.cli", "tls", "check", f"https://shop.test:{port}",
         "--resolve", f"shop.test:{port}:127.0.0.1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("prodcheck: error: ")
    assert "sslyze" not in lines[0] and "Error:" not in lines[0], lines[0]
    if kind == "plain":
        assert "does not speak TLS" in lines[0]
    else:
        assert "Connection refused" in lines[0]
    assert time.monotonic() - started < 60


def test_key_value_dsns_are_accepted_everywhere() -> None:
    kv = "host=127.0.0.1 port=5433 dbname=ecommerce user=app password=s3cret"
    settings = load_settings(
        None,
        {
            "database.dsn": kv,
            "database.admin_dsn": "host=127.0.0.1 port=5433 dbname=postgres user=postgres",
            "pgbouncer.admin_dsn": "host=127.0.0.1 port=6432 dbname=pgbouncer user=pgb",
        },
        env={},
    )
    cfg = BackupConfig.from_settings(settings, {})
    assert cfg.main is not None and cfg.main.port == 5433 and cfg.main.password == "s3cret"
    assert cfg.main.masked() == "postgresql://app:***@127.0.0.1:5433/ecommerce"
    assert cfg.admin is not None and cfg.admin.dbname == "postgres"
    console = AdminConsole(settings.pgbouncer.admin_dsn or "")  # what --admin-dsn goes through
    assert console.dsn.port == 6432 and console.dsn.dbname == "pgbouncer"
    assert "s3cret" not in repr(settings)
