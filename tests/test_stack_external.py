"""stack/external.py + provider: endpoints from a config file; missing keys skip, not crash."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_prodcheck.config import Settings, load_settings
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.stack.endpoints import MissingEndpoint
from pytest_prodcheck.stack.external import external_endpoints
from pytest_prodcheck.stack.provider import open_stack

FULL = """
url = "https://shop.example.com"
resolve = ["shop.example.com:443:10.0.0.5"]
ca_bundle = "ca.pem"

[site]
api = "backend.example.com"

[database]
dsn = "postgresql://app:${DB_PW}@db.example.com:5432/ecommerce"

[pgbouncer]
dsn = "postgresql://app:${DB_PW}@db.example.com:6432/ecommerce"
admin_dsn = "postgresql://pgb_admin:adm@db.example.com:6432/pgbouncer"

[s3]
bucket = "acme-backups"

[monitoring]
prometheus_url = "http://10.0.0.9:9090"
uptime_url = "https://shop.example.com/health"
"""


def test_external_from_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "prodcheck.toml"
    cfg.write_text(FULL)
    settings = load_settings(cfg, {}, {"DB_PW": "pw1"})
    with open_stack(settings) as ep:
        assert ep.target == "external"
        assert ep.site_url == "https://shop.example.com"
        assert ep.http_url == "http://shop.example.com/"
        assert (ep.apex, ep.www, ep.api, ep.monitoring) == (
            "shop.example.com",
            "www.shop.example.com",
            "backend.example.com",
            "monitoring.shop.example.com",
        )
        assert ep.resolve == ("shop.example.com:443:10.0.0.5",)
        assert ep.pgbouncer_dsn == "postgresql://app:pw1@db.example.com:6432/ecommerce"
        assert ep.s3 is not None and ep.s3.bucket == "acme-backups" and ep.s3.endpoint_url is None
        assert ep.ca_bundle is not None and ep.ca_bundle.endswith("ca.pem")
        assert ep.prometheus_url == "http://10.0.0.9:9090" and ep.alertmanager_url is None
        assert ep.uptime_url == "https://shop.example.com/health"


def test_missing_values_stay_none_and_name_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "prodcheck.toml"
    cfg.write_text('url = "https://shop.example.com"\n')
    ep = external_endpoints(load_settings(cfg, {}, {}))
    assert ep.pgbouncer_dsn is None and ep.s3 is None and ep.postgres_admin_dsn is None
    with pytest.raises(MissingEndpoint, match=r"set \[pgbouncer\] dsn"):
        ep.require("pgbouncer_dsn", key="[pgbouncer] dsn")


def test_external_with_nothing_configured() -> None:
    ep = external_endpoints(Settings())
    assert ep.target == "external" and ep.site_url is None and ep.names == ()


def test_unknown_target_is_a_config_error() -> None:
    wrong = dataclasses.replace(Settings(), target="kubernetes")  # load_settings refuses it
    with pytest.raises(ConfigError, match="use one of local, docker, external"), open_stack(wrong):
        pass


def test_plugin_skips_with_the_missing_key_and_imports_no_docker(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", prodcheck='url = "https://shop.example.com"\n')
    pytester.makepyfile(
        """
        import sys

        def test_needs_pgbouncer(prodcheck_stack):
            prodcheck_stack.require("pgbouncer_dsn", key="[pgbouncer] dsn")

        def test_restarts_pgbouncer(prodcheck_stack):
            prodcheck_stack.restart("pgbouncer")

        def test_site_is_there(prodcheck_stack):
            assert prodcheck_stack.site_url == "https://shop.example.com"
            assert "pytest_prodcheck.stack.containers" not in sys.modules
            assert "pytest_prodcheck.stack.local" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:locust", "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*pgbouncer_dsn is not configured: set ?pgbouncer? dsn in prodcheck.toml*",
            "*restarting pgbouncer needs a stack prodcheck runs itself (target local, not external)*",
        ]
    )
