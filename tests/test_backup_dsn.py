"""PgTarget parsing and masking, the child environment (no password file), connection errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_prodcheck.backup.dsn import PgTarget, child_env, find_bindir, tool
from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable, ToolError
from pytest_prodcheck.core.ports import free_port


def test_parse_and_mask():
    t = PgTarget.from_dsn("postgresql://app:p%40ss:w@db.example:6543/ecommerce?sslmode=require")
    assert (t.host, t.port, t.user, t.password, t.dbname) == (
        "db.example",
        6543,
        "app",
        "p@ss:w",
        "ecommerce",
    )
    assert "p@ss" not in t.masked() and "p%40ss" not in t.masked()
    assert t.masked() == "postgresql://app:***@db.example:6543/ecommerce?sslmode=require"
    assert t.url_without_password == "postgresql://app@db.example:6543/ecommerce?sslmode=require"
    assert "p%40ss" in t.dsn
    assert t.with_db("ai").dbname == "ai"
    assert "p@ss:w" not in repr(t)
    assert t.mask("error for p@ss:w") == "error for ***"


def test_key_value_dsn_and_defaults():
    t = PgTarget.from_dsn("dbname=ecommerce password='se cret'", source="DATABASE_URL")
    assert (t.host, t.port, t.user, t.password, t.dbname) == (
        "127.0.0.1",
        5432,
        "postgres",
        "se cret",
        "ecommerce",
    )
    assert t == PgTarget.from_dsn("postgresql://postgres:se%20cret@127.0.0.1/ecommerce")
    assert isinstance(t.with_db("ai"), PgTarget) and t.with_db("ai").source == "DATABASE_URL"


@pytest.mark.parametrize(
    ("dsn", "match"),
    [
        ("", "is empty"),
        ("mysql://a:b@h/db", "not a postgresql:// URL"),
        ("postgresql://a:b@h:5432", "names no database"),
        ("postgresql://a:b@h:99999/db", "invalid port"),
        ("host=h user=a password=b", "names no database"),
        ("host=h password=b dbname", "is malformed"),
    ],
)
def test_bad_dsn_is_config_error(dsn: str, match: str):
    with pytest.raises(ConfigError, match=match) as info:
        PgTarget.from_dsn(dsn, source="[database] dsn")
    assert ":b@" not in str(info.value) and "password=b" not in str(info.value)


def test_child_env_passes_the_password_in_the_environment_only(tmp_path: Path, monkeypatch):
    t = PgTarget.from_dsn("postgresql://app:se:cr\\et@127.0.0.1:5432/db")
    monkeypatch.setenv("PGPASSWORD", "leak")
    monkeypatch.setenv("PGPASSFILE", "/elsewhere/.pgpass")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    with child_env(t) as env:
        assert env["PGPASSWORD"] == "se:cr\\et"
        assert "PGPASSFILE" not in env and env["PGUSER"] == "app"
        assert list(tmp_path.iterdir()) == []  # nothing on disk that a SIGKILL could leave
    assert "se:cr" not in t.url_without_password


def test_no_password_no_pgpassword():
    with child_env(PgTarget.from_dsn("postgresql://app@127.0.0.1/db")) as env:
        assert "PGPASSWORD" not in env


def test_unreachable_database():
    t = PgTarget.from_dsn(f"postgresql://app:pw@127.0.0.1:{free_port()}/ecommerce")
    with pytest.raises(TargetUnreachable, match=r"cannot reach PostgreSQL at 127\.0\.0\.1") as info:
        t.connect(timeout=2)
    assert "pw@" not in str(info.value)


def test_bindir():
    assert (find_bindir(150020) / "pg_dump").exists()
    with pytest.raises(ConfigError, match="has no pg_dump"):
        find_bindir(None, "/nonexistent")
    with pytest.raises(ToolError, match="not found"):
        tool("nope", Path("/usr/bin"))
