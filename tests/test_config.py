"""Settings: defaults, precedence, ${VAR} expansion and one-line errors for every bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_prodcheck.config import DEFAULT_PROFILES, load_settings, parse_duration
from pytest_prodcheck.core.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prodcheck.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path | None, overrides: dict[str, object] | None = None, env=None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(path, overrides or {}, env or {})
    message = str(info.value)
    assert "\n" not in message
    return message


def test_defaults_follow_the_guide() -> None:
    s = load_settings(None, {}, {})
    assert s.target == "local"
    assert s.report_dir == "reports"
    assert (s.tls.min_days, s.tls.hsts_min_age, s.tls.cipher_profile) == (
        14,
        63072000,
        "intermediate",
    )
    assert (s.http.general_rate, s.http.api_rate, s.http.body_limit_bytes) == (10, 30, 1048576)
    pg = s.pgbouncer
    assert (pg.pool_mode, pg.max_client_conn, pg.default_pool_size, pg.reserve_pool_size) == (
        "transaction",
        1000,
        25,
        10,
    )
    assert (pg.max_db_connections, pg.server_idle_timeout, pg.client_idle_timeout) == (100, 600, 0)
    assert pg.server_connect_timeout == 15
    assert (s.backup.retain_days, s.backup.schedule) == (30, "0 2 * * *")
    assert s.backup.log == "/var/log/ecommerce_backup.log"
    assert (s.load.p95_ms, s.load.p99_ms, s.load.error_rate, s.load.min_rps) == (
        1000,
        2000,
        0.01,
        100,
    )
    assert (s.load.ai_p95_ms, s.load.ai_p99_ms) == (3000, 5000)
    users = {name: (p.users, p.run_time) for name, p in s.load.profiles.items()}
    assert users == {
        "smoke": (10, 120),
        "baseline": (50, 600),
        "stress": (200, 900),
        "spike": (500, 300),
        "endurance": (100, 3600),
    }
    assert s.s3.prefix == "databases/"


def test_precedence_option_over_file_over_default(tmp_path: Path) -> None:
    path = write(tmp_path, "release = 'from-file'\n[tls]\nmin_days = 20\n[load]\np95_ms = 800\n")
    s = load_settings(path, {"tls.min_days": 30, "release": None}, {})
    assert s.tls.min_days == 30  # option
    assert s.load.p95_ms == 800  # file
    assert s.release == "from-file"  # None override ignored
    assert s.load.p99_ms == 2000  # default


def test_env_expansion_and_literal_dollar(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[database]\ndsn = "postgresql://app:${DB_PW}@db:5432/ecommerce"\n'
        '[acme]\nemail = "ops$$@example.com"\n',
    )
    s = load_settings(path, {}, {"DB_PW": "s3cr3t"})
    assert s.database.dsn == "postgresql://app:s3cr3t@db:5432/ecommerce"
    assert s.acme.email == "ops$@example.com"
    assert s.secrets() == ["s3cr3t"]


def test_key_value_dsns_are_accepted_like_urls(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[database]\ndsn = \"host=db port=5432 dbname=ecommerce user=app password='${DB_PW}'\"\n",
    )
    s = load_settings(path, {}, {"DB_PW": "s3cr3t x"})
    assert s.database.dsn == "host=db port=5432 dbname=ecommerce user=app password='s3cr3t x'"
    assert s.secrets() == ["s3cr3t x"]
    msg = error_of(None, {"database.dsn": "host=db user=app password=hunter22"})
    assert "database.dsn" in msg and "names no database" in msg and "hunter22" not in msg
    msg = error_of(None, {"database.dsn": "dbname=db password=hunter22"})
    assert "names no host" in msg and "hunter22" not in msg


def test_missing_env_var_names_key_and_variable(tmp_path: Path) -> None:
    path = write(tmp_path, '[pgbouncer]\ndsn = "postgresql://app:${PGB_PW}@h:6432/ecommerce"\n')
    msg = error_of(path)
    assert "[pgbouncer] dsn" in msg and "PGB_PW" in msg and "not set" in msg


def test_s3_bucket_defaults_to_env() -> None:
    assert load_settings(None, {}, {"AWS_BACKUP_BUCKET": "bk"}).s3.bucket == "bk"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("colour = 'red'\n", ["unknown key colour", "allowed at top level", "target"]),
        ("[tls]\nmin_day = 3\n", ["unknown key [tls] min_day", "min_days"]),
        ("[nope]\nx = 1\n", ["unknown key nope"]),
        ("[tls]\nmin_days = 'soon'\n", ["[tls] min_days = 'soon'", "expected an integer"]),
        ("[load]\np95_ms = 'fast'\n", ["[load] p95_ms = 'fast'", "expected a number"]),
        ("host_checks = 'maybe'\n", ["host_checks", "expected true or false"]),
        ("[tls]\nmin_days = true\n", ["expected an integer"]),
        ("target = 'cloud'\n", ["target = 'cloud'", "local, docker, external"]),
        ("url = 'shop.example.com'\n", ["url = 'shop.example.com'", "https://"]),
        ("url = 'https://h:99999'\n", ["invalid port"]),
        ("[database]\ndsn = 'mysql://a:b@h/db'\n", ["[database] dsn", "postgresql://"]),
        ("[database]\ndsn = 'postgresql://a:pw@h:5432'\n", ["names no database"]),
        ("resolve = ['shop:443']\n", ["HOST:PORT:ADDR"]),
        ("resolve = 'shop:http:1.2.3.4'\n", ["HOST:PORT:ADDR"]),
        ("[load.profiles.smoke]\nusers = 'ten'\n", ["[load.profiles.smoke] users"]),
        ("[load.profiles.smoke]\nrun_time = 'soon'\n", ["run_time", "duration"]),
        ("[load.profiles.smoke]\ncolour = 1\n", ["unknown key [load.profiles.smoke] colour"]),
        ("[load.profiles.flash]\nusers = 5\n", ["new profile", "spawn_rate", "run_time"]),
        ("[pgbouncer]\npool_mode = 'wild'\n", ["pool_mode", "transaction"]),
        ("tls = 3\n", ["[tls] must be a table"]),
        ("url = \n", ["not valid TOML"]),
    ],
)
def test_bad_file_values_are_one_line_errors(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    msg = error_of(write(tmp_path, text))
    for fragment in fragments:
        assert fragment in msg, msg


def test_dsn_password_never_in_error(tmp_path: Path) -> None:
    msg = error_of(write(tmp_path, "[database]\ndsn = 'mysql://app:hunter22@h/db'\n"))
    assert "hunter22" not in msg and "***" in msg


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    assert "not found" in error_of(tmp_path / "absent.toml")


def test_option_errors() -> None:
    assert "option load.p95_ms = 'fast'" in error_of(None, {"load.p95_ms": "fast"})
    assert "unknown section [bogus]" in error_of(None, {"bogus.x": 1})
    assert "load_duration = 'x': expected an integer" in error_of(None, {"load_duration": "x"})
    assert "load_duration = 0: must be at least 1" in error_of(None, {"load_duration": "0"})
    assert "load.workers = -1: must be at least 0" in error_of(None, {"load.workers": "-1"})


def test_url_implies_external_and_conflicts() -> None:
    assert load_settings(None, {"url": "https://shop.example.com"}, {}).target == "external"
    msg = error_of(None, {"url": "https://shop.example.com", "target": "local"})
    assert "implies target 'external'" in msg


def test_option_url_beats_file_target(tmp_path: Path) -> None:
    path = write(tmp_path, "target = 'local'\n")
    assert load_settings(path, {"url": "https://s.example.com"}, {}).target == "external"


def test_relative_paths_in_file_resolve_against_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "report_dir = 'out'\nwaivers = 'w.toml'\n[backup]\ndir = '/abs/dir'\n")
    s = load_settings(path, {"ca_bundle": "ca.pem"}, {})
    assert s.report_dir == str(tmp_path / "out")
    assert s.waivers == str(tmp_path / "w.toml")
    assert s.backup.dir == "/abs/dir"
    assert s.ca_bundle == "ca.pem"  # options stay relative to the cwd
    assert s.attestations_path == tmp_path / "attestations.toml"


def test_profiles_override_and_add(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[load.profiles.smoke]\nrun_time = '30s'\n"
        "[load.profiles.flash]\nusers = 300\nspawn_rate = 50\nrun_time = '1h30m'\np95_ms = 1500\n",
    )
    profiles = load_settings(path, {}, {}).load.profiles
    assert profiles["smoke"].run_time == 30 and profiles["smoke"].users == 10
    assert profiles["flash"].run_time == 5400 and profiles["flash"].p95_ms == 1500
    assert profiles["baseline"] == DEFAULT_PROFILES["baseline"]


@pytest.mark.parametrize(("value", "seconds"), [(90, 90), ("90s", 90), ("2m", 120), ("1h", 3600)])
def test_parse_duration(value: object, seconds: int) -> None:
    assert parse_duration(value, "x") == seconds


def test_settings_are_frozen() -> None:
    s = load_settings(None, {}, {})
    with pytest.raises(AttributeError):
        s.target = "docker"  # type: ignore[misc]


def test_repr_never_shows_dsn_passwords() -> None:
    s = load_settings(None, {"database.dsn": "postgresql://app:hunter22@h:5432/db"}, {})
    assert "hunter22" not in repr(s)


def test_numbers_from_options_are_accepted_for_text_settings() -> None:
    # `prodcheck … --set release=123` parses the value as TOML, i.e. as a number
    s = load_settings(None, {"release": 123, "commit": 1234567}, {})
    assert (s.release, s.commit) == ("123", "1234567")
    assert "expected a string" in error_of(None, {"release": True})


def test_profile_values_from_options_keep_the_file_profiles(tmp_path: Path) -> None:
    path = write(tmp_path, "[load.profiles.smoke]\nusers = 4\n")
    s = load_settings(path, {"load.profiles.smoke.run_time": "30s"}, {})
    assert (s.load.profiles["smoke"].users, s.load.profiles["smoke"].run_time) == (4, 30)
    assert "[load.profiles.smoke] users" in error_of(None, {"load.profiles.smoke.users": "x"})
    assert "new profile" in error_of(None, {"load.profiles.flash.users": 3})


def test_url_with_bad_port_masks_the_password() -> None:
    msg = error_of(None, {"url": "https://app:hunter22@shop.example.com:99999"})
    assert "invalid port" in msg and "hunter22" not in msg
