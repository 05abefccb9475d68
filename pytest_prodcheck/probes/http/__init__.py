"""HTTP hardening checks: redirects, security headers, gzip, caching, keep-alive, limits, banner.

    >>> from pytest_prodcheck.probes import http
    >>> pages = http.fetch_pages(target)
    >>> http.check_hsts(pages, target.expect).ok
    True

Every ``check_*`` returns a :class:`~pytest_prodcheck.core.result.CheckResult` (never raises for
a misbehaving site: an unreachable page is an ``error`` result). Each is one row of the table in
:mod:`pytest_prodcheck.probes.site_checks`.
"""

from pytest_prodcheck.probes.http.bodylimit import check_body_limit
from pytest_prodcheck.probes.http.caching import check_static_cache
from pytest_prodcheck.probes.http.client import Response, Session, fetch
from pytest_prodcheck.probes.http.compression import check_gzip
from pytest_prodcheck.probes.http.headers import (
    check_csp,
    check_hsts,
    check_server_banner,
    check_x_content_type_options,
    check_x_frame_options,
)
from pytest_prodcheck.probes.http.keepalive import check_keepalive
from pytest_prodcheck.probes.http.pages import PageSet, fetch_pages
from pytest_prodcheck.probes.http.ratelimit import check_rate_limit
from pytest_prodcheck.probes.http.redirects import check_https_redirect, check_www_redirect

__all__ = [
    "PageSet",
    "Response",
    "Session",
    "check_body_limit",
    "check_csp",
    "check_gzip",
    "check_hsts",
    "check_https_redirect",
    "check_keepalive",
    "check_rate_limit",
    "check_server_banner",
    "check_static_cache",
    "check_www_redirect",
    "check_x_content_type_options",
    "check_x_frame_options",
    "fetch",
    "fetch_pages",
]
