"""DSN parsing, masking, PGPASSFILE handling, connection errors."""

from __future__ import annotations

import os
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
    assert "p@ss" not in t.masked and "p%40ss" not in t.masked
    assert t.masked == "postgresql://app:***@db.example:6543/ecommerce?sslmode=require"
    assert t.url_without_password == "postgresql://app@db.example:6543/ecommerce?sslmode=require"
    assert "p%40ss" in t.dsn
    assert t.with_db("ai").dbname == "ai"
    assert "p@ss:w" not in repr(t)
    assert t.mask("error for p@ss:w") == "error for ***"


@pytest.mark.parametrize(
    ("dsn", "match"),
    [
        ("", "is empty"),
        ("mysql://a:b@h/db", "not a postgresql:// URL"),
        ("postgresql://a:b@h:5432", "names no database"),
        ("postgresql://a:b@h:99999/db", "invalid port"),
    ],
)
def test_bad_dsn_is_config_error(dsn: str, match: str):
    with pytest.raises(ConfigError, match=match) as info:
        PgTarget.from_dsn(dsn, source="[database] dsn")
    assert ":b@" not in str(info.value)


def test_pgpassfile_is_private_and_removed():
    t = PgTarget.from_dsn("postgresql://app:se:cr\\et@127.0.0.1:5432/db")
    os.environ["PGPASSWORD"] = "leak"
    try:
        with child_env(t) as env:
            path = Path(env["PGPASSFILE"])
            assert (path.stat().st_mode & 0o777) == 0o600
            assert path.read_text() == "127.0.0.1:5432:*:app:se\\:cr\\\\et\n"
            assert "PGPASSWORD" not in env
    finally:
        del os.environ["PGPASSWORD"]
    assert not path.exists()


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
