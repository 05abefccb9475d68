"""The ``external`` provider: nothing starts; endpoints come from the settings only.

    >>> ep = external_endpoints(load_settings(Path("prodcheck.toml")))
    >>> ep.site_url, ep.pgbouncer_dsn          # None where not configured
    ('https://shop.example.com', None)
    >>> ep.require("pgbouncer_dsn", key="[pgbouncer] dsn")   # -> MissingEndpoint: tests skip

Missing values stay ``None`` so each test that needs one skips with a reason naming the key.
Host names default to the site URL's host (apex) and ``www.``/``api.``/``monitoring.`` + apex;
``www = ""`` (etc.) in ``[site]`` says the site has no such name.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pytest_prodcheck.stack.endpoints import Endpoints, S3Endpoint


def _get(obj: Any, dotted: str, default: Any = None) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return default
    return obj


def _default_http_url(site_url: str) -> str:
    parts = urlsplit(site_url)
    return urlunsplit(("http", parts.hostname or "", "/", "", ""))


def external_endpoints(settings: Any, *, target: str = "external") -> Endpoints:
    """Endpoints described by ``settings`` (a :class:`pytest_prodcheck.config.Settings`)."""
    site_url = _get(settings, "url")
    apex = _get(settings, "site.apex") or (urlsplit(site_url).hostname if site_url else None)

    def name(key: str, prefix: str) -> str | None:
        value = _get(settings, f"site.{key}")
        if value is not None:  # "" = the site has no such name (its checks are n/a)
            return str(value) or None
        return f"{prefix}.{apex}" if apex else None

    http_url = _get(settings, "http_url") or (_default_http_url(site_url) if site_url else None)
    bucket = _get(settings, "s3.bucket") or os.environ.get("AWS_BACKUP_BUCKET")
    s3 = None
    if bucket:
        s3 = S3Endpoint(
            bucket=str(bucket),
            endpoint_url=_get(settings, "s3.endpoint_url"),
            region=str(_get(settings, "s3.region", "us-east-1")),
            prefix=str(_get(settings, "s3.prefix", "databases/")),
        )
    ca_bundle = _get(settings, "ca_bundle")
    acme_ca = _get(settings, "acme.ca_bundle")
    return Endpoints(
        target=target,
        site_url=site_url,
        http_url=http_url,
        apex=apex,
        www=name("www", "www"),
        api=name("api", "api"),
        monitoring=name("monitoring", "monitoring"),
        resolve=tuple(_get(settings, "resolve", ()) or ()),
        ca_bundle=str(ca_bundle) if ca_bundle else None,
        static_path=str(_get(settings, "site.static_path", "/static/app.css")),
        api_path=str(_get(settings, "site.api_path", "/api/products")),
        postgres_admin_dsn=_get(settings, "database.admin_dsn"),
        postgres_dsn=_get(settings, "database.dsn"),
        postgres_ai_dsn=_get(settings, "database.ai_dsn"),
        pgbouncer_dsn=_get(settings, "pgbouncer.dsn"),
        pgbouncer_ai_dsn=_get(settings, "pgbouncer.ai_dsn"),
        pgbouncer_admin_dsn=_get(settings, "pgbouncer.admin_dsn"),
        s3=s3,
        acme_directory=_get(settings, "acme.directory"),
        acme_ca_bundle=str(acme_ca) if acme_ca else None,
        webroot=_get(settings, "acme.webroot"),
        prometheus_url=_get(settings, "monitoring.prometheus_url"),
        alertmanager_url=_get(settings, "monitoring.alertmanager_url"),
        uptime_url=_get(settings, "monitoring.uptime_url"),
        metrics_url=_get(settings, "monitoring.metrics_url"),
    )
