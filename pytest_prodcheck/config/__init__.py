"""Settings: ``prodcheck.toml`` + ``--prodcheck-*`` options + environment, validated and frozen.

    >>> s = load_settings(None, {"url": "https://shop.example.com", "tls.min_days": 21}, env={})
    >>> s.target, s.tls.min_days, s.pgbouncer.default_pool_size
    ('external', 21, 25)

:mod:`~pytest_prodcheck.config.schema` holds the frozen dataclasses (one per TOML section),
:mod:`~pytest_prodcheck.config.load` reads the file, applies options and the environment, and
:mod:`~pytest_prodcheck.config.convert` converts and validates each value.
"""

from __future__ import annotations

from pytest_prodcheck.config.convert import parse_duration
from pytest_prodcheck.config.load import DEFAULT_CONFIG_NAME, find_config, load_settings, read_toml
from pytest_prodcheck.config.schema import (
    DEFAULT_PROFILES,
    ENV_BUCKET,
    SECTIONS,
    URL_TARGET,
    AcmeSettings,
    BackupSettings,
    ChecklistSettings,
    DatabaseSettings,
    HttpSettings,
    LoadProfile,
    LoadSettings,
    MonitoringSettings,
    PgBouncerSettings,
    S3Settings,
    SecuritySettings,
    Settings,
    SiteSettings,
    TlsSettings,
)

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "DEFAULT_PROFILES",
    "ENV_BUCKET",
    "SECTIONS",
    "URL_TARGET",
    "AcmeSettings",
    "BackupSettings",
    "ChecklistSettings",
    "DatabaseSettings",
    "HttpSettings",
    "LoadProfile",
    "LoadSettings",
    "MonitoringSettings",
    "PgBouncerSettings",
    "S3Settings",
    "SecuritySettings",
    "Settings",
    "SiteSettings",
    "TlsSettings",
    "find_config",
    "load_settings",
    "parse_duration",
    "read_toml",
]
