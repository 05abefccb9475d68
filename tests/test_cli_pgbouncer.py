"""``prodcheck pgbouncer stats|pools|clients|servers|config|databases|audit`` against real PgBouncers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pytest_prodcheck import cli
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.stack.pgbouncer import PgBouncerOptions, PgBouncerServer


@pytest.fixture(scope="module")
def good(pg):
    b = PgBouncerServer(make_tempdir("pgb-"), pg).start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def session_mode(pg):
    b = PgBouncerServer(make_tempdir("pgb-"), pg, PgBouncerOptions(pool_mode="session")).start()
    yield b
    b.stop()


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray prodcheck.toml
    monkeypatch.delenv("PGPASSWORD", raising=False)


@pytest.mark.parametrize(
    ("command", "column"),
    [
        ("stats", "total_xact_count"),
        ("pools", "cl_active"),
        ("clients", "application_name"),
        ("servers", "remote_pid"),
        ("config", "changeable"),
        ("databases", "pool_size"),
    ],
)
def test_show_commands_print_aligned_tables(good, capsys, command, column):
    assert cli.main(["pgbouncer", command, "--admin-dsn", good.admin_dsn]) == 0
    out = capsys.readouterr().out
    header, rule = out.splitlines()[:2]
    assert column in header and set(rule) <= {"-", "+"}
    assert len(header.split(" | ")) == len(rule.split("-+-"))
    assert out.rstrip().endswith(("row)", "rows)"))
    assert good.admin_password not in out


def test_config_shows_the_pool_mode_row(good, capsys):
    assert cli.main(["pgbouncer", "config", "--admin-dsn", good.admin_dsn]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("pool_mode ")]
    assert rows and "transaction" in rows[0]


def test_json_output(good, capsys):
    assert cli.main(["pgbouncer", "pools", "--json", "--admin-dsn", good.admin_dsn]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "pool_mode" in data["columns"] and isinstance(data["rows"], list)


def test_admin_dsn_from_prodcheck_toml_and_password_from_env(good, tmp_path, capsys, monkeypatch):
    dsn_without_pw = good.admin_dsn.replace(f":{good.admin_password}@", "@")
    (tmp_path / "prodcheck.toml").write_text(f'[pgbouncer]\nadmin_dsn = "{dsn_without_pw}"\n')
    monkeypatch.setenv("PGPASSWORD", good.admin_password)
    assert cli.main(["pgbouncer", "pools"]) == 0
    assert "cl_active" in capsys.readouterr().out


def test_audit_passes_on_the_guides_pgbouncer_with_prepares_disabled(good, capsys):
    code = cli.main(
        [
            "pgbouncer",
            "audit",
            "--admin-dsn",
            good.admin_dsn,
            "--set",
            "pgbouncer.prepared_statements_disabled=true",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASS  pgbouncer.config.pool_mode" in out


def test_audit_flags_prepared_statements_on_118(good, capsys):
    assert cli.main(["pgbouncer", "audit", "--admin-dsn", good.admin_dsn]) == 1
    out = capsys.readouterr().out
    assert "FAIL  pgbouncer.prepared-statements" in out


def test_audit_fails_with_exit_1_on_session_pooling(session_mode, capsys):
    code = cli.main(["pgbouncer", "audit", "--json", "--admin-dsn", session_mode.admin_dsn])
    assert code == 1
    checks = {c["id"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["pgbouncer.config.pool_mode"]["status"] == "fail"
    assert checks["pgbouncer.config.pool_mode"]["observed"] == "session"


def test_missing_admin_dsn_is_a_usage_error(capsys):
    assert cli.main(["pgbouncer", "stats"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--admin-dsn" in err and "[pgbouncer] admin_dsn" in err


def test_unreachable_pgbouncer_exits_3_without_the_password(capsys):
    dsn = f"postgresql://pgb_admin:S3cretPw99@127.0.0.1:{free_port()}/pgbouncer"
    assert cli.main(["pgbouncer", "pools", "--admin-dsn", dsn]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unreachable" in err and "S3cretPw99" not in err


@pytest.mark.parametrize(
    "dsn",
    [
        "garbage",
        "postgresql://pgb_admin:S3cretPw99@127.0.0.1:notaport/pgbouncer",
        "postgresql://pgb_admin:S3cretPw99@127.0.0.1:6432/pgbouncer?sslmode=bogus",
        "postgresql://pgb_admin:S3cretPw99@[::1/pgbouncer",
    ],
)
def test_malformed_admin_dsn_is_one_line_exit_2(dsn, capsys):
    assert cli.main(["pgbouncer", "pools", "--admin-dsn", dsn]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is malformed" in err and "S3cretPw99" not in err


def test_wrong_password_exits_2(good, capsys):
    dsn = good.admin_dsn.replace(good.admin_password, "not-the-password")
    assert cli.main(["pgbouncer", "pools", "--admin-dsn", dsn]) == 2
    err = capsys.readouterr().err
    assert "check the user and password" in err and "not-the-password" not in err


def test_unknown_subcommand_is_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["pgbouncer", "lists"])
    assert exc.value.code == 2


def test_console_script_end_to_end(good):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_prodcheck.cli",
            "pgbouncer",
            "pools",
            "--admin-dsn",
            good.admin_dsn,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert "pool_mode" in res.stdout and "Traceback" not in res.stderr
