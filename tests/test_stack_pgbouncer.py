"""stack/pgbouncer.py + conf/pgbouncer.ini.j2: the guide's settings, auth, admin console, reload."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.stack.pgbouncer import (
    PgBouncerOptions,
    PgBouncerServer,
    render_pgbouncer_ini,
)
from pytest_prodcheck.stack.postgres import PostgresServer

GUIDE = {
    "pool_mode": "transaction",
    "max_client_conn": "1000",
    "default_pool_size": "25",
    "reserve_pool_size": "10",
    "max_db_connections": "100",
    "server_idle_timeout": "600",
    "client_idle_timeout": "0",
    "server_connect_timeout": "15",
    "auth_type": "scram-sha-256",
}


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[PostgresServer, PgBouncerServer]]:
    work = make_tempdir("test-pgb-")
    pg = PostgresServer(work / "pg", migrate=False)
    (work / "pg").mkdir()
    pg.start()
    pgb = PgBouncerServer(work / "pgb", pg).start()
    yield pg, pgb
    pgb.stop()
    pg.stop()
    remove_tempdir(work)


def _config(pgb: PgBouncerServer) -> dict[str, str]:
    return {str(r[0]): str(r[1]) for r in pgb.admin("SHOW CONFIG")}


def test_rendered_ini_has_the_guides_values() -> None:
    text = render_pgbouncer_ini(
        PgBouncerOptions(), server_port=5432, listen_port=6432, auth_file="/a"
    )
    for key, value in GUIDE.items():
        assert f"\n{key} = {value}\n" in text
    assert "ecommerce = host=127.0.0.1 port=5432 dbname=ecommerce" in text
    assert "ai = host=127.0.0.1 port=5432 dbname=ai" in text


def test_running_config_has_the_guides_values(
    stack: tuple[PostgresServer, PgBouncerServer],
) -> None:
    _pg, pgb = stack
    config = _config(pgb)
    for key, value in GUIDE.items():
        assert config[key] == value, key


def test_auth_file_holds_scram_secrets_not_passwords(
    stack: tuple[PostgresServer, PgBouncerServer],
) -> None:
    pg, pgb = stack
    text = pgb.auth_file.read_text()
    assert pg.app_password not in text and pgb.admin_password not in text
    assert f'"app" "{pg.scram_secret("app")}"' in text
    assert pgb.auth_file.stat().st_mode & 0o777 == 0o600


def test_app_login_through_the_pooler(stack: tuple[PostgresServer, PgBouncerServer]) -> None:
    _pg, pgb = stack
    for db in ("ecommerce", "ai"):
        with psycopg.connect(pgb.dsn(db), prepare_threshold=None) as conn:
            assert conn.execute("select current_user, current_database()").fetchone() == ("app", db)
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        psycopg.connect(pgb.dsn("ecommerce", password="wrong"), connect_timeout=5)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pgb.dsn("nosuchdb"), connect_timeout=5)


def test_admin_and_stats_users(stack: tuple[PostgresServer, PgBouncerServer]) -> None:
    _pg, pgb = stack
    assert pgb.admin("SHOW POOLS") is not None
    with psycopg.connect(pgb.stats_dsn, autocommit=True) as conn:
        conn.execute("SHOW STATS")
        with pytest.raises(psycopg.Error, match="admin access needed"):
            conn.execute("PAUSE")
    wrong = pgb.admin_dsn.replace(pgb.admin_password, "wrong")
    with pytest.raises(psycopg.OperationalError, match="authentication failed"):
        psycopg.connect(wrong, autocommit=True, connect_timeout=5)


def test_reload_applies_a_wrong_config_and_back(
    stack: tuple[PostgresServer, PgBouncerServer],
) -> None:
    _pg, pgb = stack
    good = pgb.options
    try:
        pgb.reload(replace(good, pool_mode="session", default_pool_size=200, max_db_connections=0))
        config = _config(pgb)
        assert (config["pool_mode"], config["default_pool_size"], config["max_db_connections"]) == (
            "session",
            "200",
            "0",
        )
    finally:
        pgb.reload(good)
    assert _config(pgb)["pool_mode"] == "transaction"


def test_plaintext_auth_variant(stack: tuple[PostgresServer, PgBouncerServer]) -> None:
    pg, pgb = stack
    good = pgb.options
    try:
        pgb.restart(replace(good, auth_mode="plaintext"))
        assert f'"app" "{pg.app_password}"' in pgb.auth_file.read_text()
        with psycopg.connect(pgb.dsn("ecommerce"), prepare_threshold=None) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        pgb.restart(good)
    assert pg.app_password not in pgb.auth_file.read_text()


def test_bad_options() -> None:
    with pytest.raises(ConfigError, match="pool_mode"):
        PgBouncerOptions(pool_mode="connection")
    with pytest.raises(ConfigError, match="auth_mode"):
        PgBouncerOptions(auth_mode="md5")  # type: ignore[arg-type]


def test_pgbouncer_gets_enough_file_descriptors(
    stack: tuple[PostgresServer, PgBouncerServer],
) -> None:
    import resource

    pg, _pgb = stack
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    work = make_tempdir("test-pgb-fd-")
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        extra = PgBouncerServer(work, pg).start()
        limits = Path(f"/proc/{extra.process.pid}/limits").read_text()
        line = next(ln for ln in limits.splitlines() if ln.startswith("Max open files"))
        assert int(line.split()[3]) >= 1462  # what pgbouncer says it needs for 1000 clients
        extra.stop()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        remove_tempdir(work)


def test_stop_also_stops_a_pgbouncer_started_elsewhere_from_our_ini(
    stack: tuple[PostgresServer, PgBouncerServer],
) -> None:
    # e.g. restarted by pidfile by a tool that does not share our ManagedProcess handle
    import os
    import subprocess
    import time

    from pytest_prodcheck.core.ports import wait_port
    from pytest_prodcheck.stack.pgbouncer import PGBOUNCER_BIN

    _pg, pgb = stack
    pgb.process.stop()
    user = {} if pgb.account is None else {"user": pgb.account[0], "group": pgb.account[1]}
    foreign = subprocess.Popen(
        [PGBOUNCER_BIN, str(pgb.ini_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **user,  # type: ignore[call-overload]
    )
    try:
        wait_port(pgb.host, pgb.port, 10)
        assert int(pgb.pidfile.read_text().split()[0]) == foreign.pid
        pgb.stop()
        assert foreign.wait(5) is not None, "the foreign PgBouncer outlived stop()"
    finally:
        if foreign.poll() is None:
            foreign.kill()
            foreign.wait()
    deadline = time.monotonic() + 5
    while pgb.pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    pgb.start()  # leave the module's stack running
    assert os.getpgid(pgb.process.pid) == pgb.process.pid


def test_pidfile_restarter_replaces_a_pgbouncer_started_elsewhere(pg):
    """A PgBouncer this run did not start (as under systemd) is SIGTERMed and started again."""
    import os
    import subprocess
    import time

    from pytest_prodcheck.core.ports import wait_port
    from pytest_prodcheck.core.proc import running_processes
    from pytest_prodcheck.stack.pgbouncer import PGBOUNCER_BIN, pidfile_restarter

    b = PgBouncerServer(make_tempdir("pgb-"), pg)
    b.write_config()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    user = {"user": b.account[0], "group": b.account[1]} if b.account else {}
    foreign = subprocess.Popen(
        [PGBOUNCER_BIN, str(b.ini_path)],
        env=env,
        cwd=b.workdir,
        stderr=subprocess.DEVNULL,
        **user,  # type: ignore[call-overload]
    )
    try:
        wait_port(b.host, b.port, 10)
        for _ in range(500):  # PgBouncer may accept before it writes its pidfile
            if (b.workdir / "pgbouncer.pid").read_text().strip():
                break
            time.sleep(0.01)
        pidfile_restarter(b.ini_path)()
        new = [p for p in running_processes() if p.name == "pgbouncer (restarted)"]
        assert foreign.poll() is not None and len(new) == 1 and new[0].alive
        assert int((b.workdir / "pgbouncer.pid").read_text()) == new[0].pid
        new[0].stop()
    finally:
        if foreign.poll() is None:
            foreign.kill()
            foreign.wait()


def test_pidfile_restarter_rejects_an_ini_without_pidfile(tmp_path):
    from pytest_prodcheck.stack.pgbouncer import pidfile_restarter

    ini = tmp_path / "pgbouncer.ini"
    ini.write_text("[pgbouncer]\nlisten_port = 6432\n")
    with pytest.raises(ConfigError, match="names no pidfile"):
        pidfile_restarter(ini)
    with pytest.raises(ConfigError, match="cannot read PgBouncer config"):
        pidfile_restarter(tmp_path / "missing.ini")
