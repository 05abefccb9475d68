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

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from pytest_prodcheck.stack.endpoints import Endpoints, S3Endpoint

if TYPE_CHECKING:
    from pytest_prodcheck.config import Settings


def _default_http_url(site_url: str) -> str:
    parts = urlsplit(site_url)
    return urlunsplit(("http", parts.hostname or "", "/", "", ""))


def external_endpoints(settings: Settings, *, target: str = "external") -> Endpoints:
    """Endpoints described by ``settings`` (``[s3] bucket`` already defaults to the environment's
    ``AWS_BACKUP_BUCKET``: :func:`~pytest_prodcheck.config.load_settings` applies it)."""
    site_url = settings.url
    site, s3s, acme, mon = settings.site, settings.s3, settings.acme, settings.monitoring
    apex = site.apex or (urlsplit(site_url).hostname if site_url else None)

    def name(value: str | None, prefix: str) -> str | None:
        if value is not None:  # "" = the site has no such name (its checks are n/a)
            return value or None
        return f"{prefix}.{apex}" if apex else None

    http_url = settings.http_url or (_default_http_url(site_url) if site_url else None)
    s3 = None
    if s3s.bucket:
        s3 = S3Endpoint(
            bucket=s3s.bucket,
            endpoint_url=s3s.endpoint_url,
            region=s3s.region,
            prefix=s3s.prefix,
        )
    return Endpoints(
        target=target,
        site_url=site_url,
        http_url=http_url,
        apex=apex,
        www=name(site.www, "www"),
        api=name(site.api, "api"),
        monitoring=name(site.monitoring, "monitoring"),
        resolve=settings.resolve,
        ca_bundle=settings.ca_bundle or None,
        static_path=site.static_path,
        api_path=site.api_path,
        postgres_admin_dsn=settings.database.admin_dsn,
        postgres_dsn=settings.database.dsn,
        postgres_ai_dsn=settings.database.ai_dsn,
        pgbouncer_dsn=settings.pgbouncer.dsn,
        pgbouncer_ai_dsn=settings.pgbouncer.ai_dsn,
        pgbouncer_admin_dsn=settings.pgbouncer.admin_dsn,
        s3=s3,
        acme_directory=acme.directory,
        acme_ca_bundle=acme.ca_bundle or None,
        webroot=acme.webroot,
        prometheus_url=mon.prometheus_url,
        alertmanager_url=mon.alertmanager_url,
        uptime_url=mon.uptime_url,
        metrics_url=mon.metrics_url,
    )
