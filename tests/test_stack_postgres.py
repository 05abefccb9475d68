"""stack/postgres.py (+ the template it copies): start as the service user, roles, passwords, stop."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pytest_prodcheck.core.errors import ConfigError, ToolError
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.stack import pg_template as tmplmod
from pytest_prodcheck.stack import postgres as pgmod
from pytest_prodcheck.stack.pg_template import template_dir
from pytest_prodcheck.stack.postgres import PostgresServer, scram_verifier


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    work = make_tempdir("test-pg-")
    server = PostgresServer(work, migrate=False).start()
    yield server
    server.stop()
    remove_tempdir(work)


def _uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def test_superuser_and_app_role(pg: PostgresServer) -> None:
    with psycopg.connect(pg.admin_dsn) as conn:
        assert conn.execute(
            "select rolsuper from pg_roles where rolname = current_user"
        ).fetchone() == (True,)
    for db in ("ecommerce", "ai"):
        with psycopg.connect(pg.dsn(db)) as conn:
            row = conn.execute(
                "select current_user, current_database(),"
                " (select rolsuper from pg_roles where rolname = current_user),"
                " pg_get_userbyid(datdba) from pg_database where datname = current_database()"
            ).fetchone()
            assert row == ("app", db, False, "app")


def test_wrong_password_is_refused(pg: PostgresServer) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg.dsn("ecommerce", password="wrong"), connect_timeout=5)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg.dsn("postgres", user="postgres", password="wrong"), connect_timeout=5)


def test_passwords_are_per_run_scram_verifiers(pg: PostgresServer) -> None:
    stored = pg.query("select rolpassword from pg_authid where rolname = 'app'")[0][0]
    assert stored.startswith("SCRAM-SHA-256$4096:")
    assert pg.scram_secret("app") == stored
    template_pw = (template_dir(False) / "secrets.json").read_text()
    assert pg.app_password not in template_pw and pg.superuser_password not in template_pw


@pytest.mark.skipif(os.geteuid() != 0, reason="the service user only matters as root")
def test_runs_as_postgres_on_tmpfs(pg: PostgresServer) -> None:
    assert _uid(pg.process.pid) == pg.account[0]  # type: ignore[index]
    if Path("/dev/shm").is_dir():
        assert str(pg.data_dir).startswith("/dev/shm/")
    assert (pg.data_dir.stat().st_mode & 0o777) == 0o700


def test_create_role_and_database(pg: PostgresServer) -> None:
    pg.create_role("reporter", "rep-pw")
    pg.create_database("reports", owner="reporter")
    with psycopg.connect(pg.dsn("reports", user="reporter", password="rep-pw")) as conn:
        assert conn.execute("select current_database()").fetchone() == ("reports",)
    with pytest.raises(ConfigError, match="role name"):
        pg.create_role("Robert'); drop table x;--", "pw")


def test_scram_verifier_is_accepted_by_the_server(pg: PostgresServer) -> None:
    pg.execute(f"CREATE ROLE verif LOGIN PASSWORD '{scram_verifier('v-pw')}'")
    with psycopg.connect(pg.dsn("postgres", user="verif", password="v-pw")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_template_is_cached_and_keyed_by_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (template_dir(False) / "READY").exists()
    (tmp_path / "schema.sql").write_text("create table a (id int);\n")
    (tmp_path / "seed.py").write_text("SEED_VERSION = 1\n")
    (tmp_path / "__main__.py").write_text("")
    monkeypatch.setattr(tmplmod, "SHOP_DIR", tmp_path)
    first = tmplmod.schema_tag()
    (tmp_path / "seed.py").write_text("SEED_VERSION = 2\n")
    second = tmplmod.schema_tag()
    (tmp_path / "schema.sql").write_text("create table a (id bigint);\n")
    third = tmplmod.schema_tag()
    assert len({first, second, third}) == 3
    assert tmplmod.schema_tag(migrate=False).endswith("noshop")


def test_fixed_port_in_use_is_a_clear_error(pg: PostgresServer) -> None:
    work = make_tempdir("test-pg-clash-")
    try:
        clash = PostgresServer(work, port=pg.port, migrate=False)
        with pytest.raises(ToolError, match="PostgreSQL did not start"):
            clash.start(timeout=20)
        assert not clash.process.alive
    finally:
        remove_tempdir(work)


def test_missing_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pgmod, "PG_BINDIR", Path("/nonexistent/bin"))
    with pytest.raises(ToolError, match="install postgresql-15 or set PRODCHECK_PG_BINDIR"):
        pgmod.server_version()


def test_stop_modes() -> None:
    work = make_tempdir("test-pg-stop-")
    try:
        server = PostgresServer(work, port=free_port(), migrate=False).start()
        with pytest.raises(ConfigError, match="stop mode"):
            server.stop("gentle")
        server.stop("immediate")
        assert not server.process.alive
        assert not (server.data_dir / "postmaster.pid").exists() or not server.process.alive
    finally:
        remove_tempdir(work)


def test_generated_passwords_never_contain_a_role_name() -> None:
    from pytest_prodcheck.stack.postgres import ROLE_NAMES, new_password

    pws = [new_password() for _ in range(5000)]
    assert all(len(pw) == 24 for pw in pws)
    assert not [pw for pw in pws if any(n in pw.lower() for n in ROLE_NAMES)]
