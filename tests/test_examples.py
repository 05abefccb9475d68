"""The shipped examples/ files are valid: the config loads (secrets from the environment), the
waiver and attestation files parse, and no secret is written in them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_prodcheck.checklist import load_attestations, load_waivers
from pytest_prodcheck.config import load_settings
from pytest_prodcheck.core.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ENV = {
    "APP_DB_PASSWORD": "app-secret-1",
    "POSTGRES_PASSWORD": "pg-secret-2",
    "PGBOUNCER_STATS_PASSWORD": "stats-secret-3",
    "AWS_BACKUP_BUCKET": "acme-backups",
    "GRAFANA_TOKEN": "glsa_token",
}


def test_example_config_loads_with_secrets_from_the_environment() -> None:
    settings = load_settings(EXAMPLES / "prodcheck.toml", {}, ENV)
    assert settings.target == "external"
    assert (
        settings.pgbouncer.default_pool_size == 25 and settings.pgbouncer.pool_mode == "transaction"
    )
    assert settings.pgbouncer.dsn is not None and "app-secret-1" in settings.pgbouncer.dsn
    assert settings.monitoring.grafana_token == "glsa_token"


def test_example_config_names_the_missing_variable() -> None:
    env = {k: v for k, v in ENV.items() if k != "APP_DB_PASSWORD"}
    with pytest.raises(ConfigError, match="APP_DB_PASSWORD"):
        load_settings(EXAMPLES / "prodcheck.toml", {}, env)


def test_example_waivers_and_attestations_parse() -> None:
    assert [w.item for w in load_waivers(EXAMPLES / "waivers.toml")] == ["performance.cdn"]
    assert [a.item for a in load_attestations(EXAMPLES / "attestations.toml")] == [
        "security.fail2ban"
    ]


def test_examples_hold_no_literal_secret() -> None:
    for path in EXAMPLES.iterdir():
        text = path.read_text()
        for value in ENV.values():
            assert value not in text, f"{path.name} holds a literal secret"
