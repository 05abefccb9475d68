"""core/dsn.py: both DSN forms parse to one Dsn; every rendering round-trips; secrets never shown."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from pytest_prodcheck.core.dsn import DEFAULT_PORT, Dsn, connect_error, dsn_password, first_line
from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable
from pytest_prodcheck.core.ports import free_port

SECRET = "Secr3t pa:ss@w'rd"
QUOTED = SECRET.replace("'", "\\'")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgresql://app:s3cret@127.0.0.1:6432/ecommerce",
            ("127.0.0.1", 6432, "ecommerce", "app", "s3cret", ()),
        ),
        (
            "postgres://app:p%40ss:w@db.example:6543/ecommerce?sslmode=require",
            ("db.example", 6543, "ecommerce", "app", "p@ss:w", (("sslmode", "require"),)),
        ),
        (
            "host=127.0.0.1 port=6432 dbname=ecommerce user=app password=s3cret",
            ("127.0.0.1", 6432, "ecommerce", "app", "s3cret", ()),
        ),
        (
            "host=h dbname=d user=u password='a b\\'c' connect_timeout=3",
            ("h", DEFAULT_PORT, "d", "u", "a b'c", (("connect_timeout", "3"),)),
        ),
        ("postgresql://[::1]:5433/db", ("::1", 5433, "db", "", "", ())),
        ("postgresql:///db?host=/run/pg", ("/run/pg", DEFAULT_PORT, "db", "", "", ())),
        ("  dbname=x  ", ("", DEFAULT_PORT, "x", "", "", ())),
        ("postgresql://h:/db", ("h", DEFAULT_PORT, "db", "", "", ())),
    ],
)
def test_parse_both_forms(text: str, expected: tuple[object, ...]) -> None:
    d = Dsn.parse(text)
    assert (d.host, d.port, d.dbname, d.user, d.password, d.params) == expected


def test_url_and_key_value_forms_are_the_same_dsn() -> None:
    url = Dsn.parse("postgresql://app:s3cret@127.0.0.1:6432/ecommerce?sslmode=disable", "a")
    kv = Dsn.parse(
        "host=127.0.0.1 port=6432 dbname=ecommerce user=app password=s3cret sslmode=disable", "b"
    )
    assert url == kv and hash(url) == hash(kv)  # ``source`` is a label, not part of the value


@pytest.mark.parametrize(
    "text",
    [
        f"host=127.0.0.1 port=6432 dbname='my db' user=app password='{QUOTED}'",
        "postgresql://app:p%40ss@[::1]:5432/ecommerce?sslmode=require&application_name=x",
        "host=/run/postgresql dbname=ecommerce",
        "dbname=only",
    ],
)
def test_every_form_round_trips_through_libpq(text: str) -> None:
    d = Dsn.parse(text)
    for rendered in (d.url(), d.conninfo()):
        assert Dsn.parse(rendered) == d
    env = d.libpq_env()
    assert env.get("PGPASSWORD", "") == d.password
    assert env.get("PGDATABASE") == d.dbname and env["PGPORT"] == str(d.port)
    assert ("PGHOST" in env) == bool(d.host)
    assert conninfo_to_dict(d.url(password=False)).get("password") is None


def test_secrets_are_never_shown() -> None:
    d = Dsn.parse(
        "host=h port=5432 dbname=db user=app password='pw one' sslpassword=keypass sslmode=require"
    )
    for shown in (repr(d), str(d), d.masked(), f"{d}", repr([d])):
        assert "pw one" not in shown and "pw%20one" not in shown and "keypass" not in shown
    assert d.masked() == "postgresql://app:***@h:5432/db?sslmode=require&sslpassword=***"
    assert repr(d).startswith("Dsn('postgresql://app:***@h:5432/db")
    assert d.mask("failed for pw one and pw%20one (keypass)") == "failed for *** and *** (***)"


def test_no_password_no_mask() -> None:
    d = Dsn.parse("postgresql://app@h:5432/db")
    assert d.masked() == d.url() == "postgresql://app@h:5432/db"


def test_variants_keep_the_rest() -> None:
    d = Dsn.parse("postgresql://app:pw@h:6432/ecommerce?sslmode=disable", "[database] dsn")
    ai = d.with_database("ai")
    assert (ai.dbname, ai.host, ai.port, ai.user, ai.password, ai.params, ai.source) == (
        "ai",
        "h",
        6432,
        "app",
        "pw",
        (("sslmode", "disable"),),
        "[database] dsn",
    )
    other = d.with_user("postgres", "root-pw")
    assert (other.user, other.password, other.dbname) == ("postgres", "root-pw", "ecommerce")
    assert d.with_user("nobody").password == ""
    assert d.address == "h:6432"


@pytest.mark.parametrize(
    ("text", "kwargs", "fragments"),
    [
        ("", {}, ["[x] dsn is empty", "postgresql://USER:PASSWORD@HOST:PORT/DB", "host=HOST"]),
        ("   ", {}, ["is empty"]),
        ("mysql://a:hunter22@h/db", {}, ["not a postgresql:// URL", "***"]),
        ("http://h/db", {}, ["not a postgresql:// URL"]),
        ("garbage", {}, ["is malformed", "key=value"]),
        ("posgres:/app:hunter22@/x", {}, ["is malformed", "***"]),
        ("host=h password='hunter22 x", {}, ["unterminated quoted string", "password=***"]),
        ("host=h password=hunter22 bogus=1", {}, ['unknown option "bogus"']),
        ("postgresql://a:hunter22@h:5432/db?bogus=1", {}, ['unknown option "bogus"', "a:***@"]),
        ("postgresql://a:hunter22@[::1/db", {}, ["unterminated [IPv6] host"]),
        ("postgresql://a:hunter22@h:99999/db", {}, ["invalid port '99999'", "numeric port"]),
        ("postgresql://a:hunter22@h:pgport/db", {}, ["is malformed", "invalid port 'pgport'"]),
        ("host=h port=0 password=hunter22", {}, ["invalid port '0'"]),
        ("postgresql://a:hunter22@h1,h2:5433/db", {}, ["invalid port"]),
        ("postgresql://a:hunter22@h:5432", {"require_database": True}, ["names no database"]),
        ("host=h user=a password=hunter22", {"require_database": True}, ["dbname=DBNAME"]),
        ("postgresql:///db", {"require_host": True}, ["names no host"]),
        ("dbname=db password=hunter22", {"require_host": True}, ["names no host"]),
    ],
)
def test_bad_input_is_one_config_error_line(
    text: str, kwargs: dict[str, bool], fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        Dsn.parse(text, "[x] dsn", **kwargs)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("[x] dsn")
    assert "hunter22" not in msg
    for fragment in fragments:
        assert fragment in msg, msg


def test_not_a_string_is_empty() -> None:
    with pytest.raises(ConfigError, match="is empty"):
        Dsn.parse(None, "[x] dsn")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "password"),
    [
        ("postgresql://app:s3cret@h/db", "s3cret"),
        ("host=h password='a b'", "a b"),
        ("postgresql://app@h/db", None),
        ("garbage", None),
    ],
)
def test_dsn_password(text: str, password: str | None) -> None:
    assert dsn_password(text) == password


def test_first_line() -> None:
    assert first_line(ValueError("one\nDETAIL: two")) == "one"
    assert first_line(ValueError("")) == "ValueError"


def test_connect_error_is_masked_and_classified() -> None:
    port = free_port()
    text = f"host=127.0.0.1 port={port} dbname=db user=app password=hunter22 connect_timeout=2"
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(text)
    for dsn in (text, Dsn.parse(text)):
        err = connect_error(dsn, info.value, "PostgreSQL")
        assert isinstance(err, TargetUnreachable)
        assert "unreachable" in str(err) and "hunter22" not in str(err)
    auth = connect_error(text, psycopg.OperationalError("password authentication failed"), "X")
    assert isinstance(auth, ConfigError) and "check the user and password" in str(auth)
    bad = connect_error(text, psycopg.OperationalError('invalid sslmode value: "x"'), "X")
    assert isinstance(bad, ConfigError) and "is malformed" in str(bad)
