"""The table of every TLS, certificate and HTTP check of one site: id → callable → group → items.

    >>> from pytest_prodcheck.probes.site_checks import SITE_CHECKS, SiteInputs
    >>> SITE_CHECKS.ids()[:2]
    ('tls.protocols', 'tls.ciphers')
    >>> inputs = SiteInputs(target)            # each shared input fetched at most once
    >>> SITE_CHECKS.get("tls.protocols").run(inputs).status
    'pass'

From this table come :data:`~pytest_prodcheck.probes.tls_site.CHECK_IDS`, the dispatch of
:func:`~pytest_prodcheck.probes.tls_site.run_site_checks`, the ``prodcheck tls list``
listing and the parametrisation of ``suites/test_tls.py`` (rows marked ``tls``) and
``suites/test_http.py`` (rows marked ``http``), checklist markers included.

Groups name the shared input a check reads: ``scan`` (one sslyze scan), ``handshakes`` (one
handshake per host name), ``pages`` (``/``, the API path, a static file, an error page), ``site``
(its own requests), ``burst`` (floods the site: the rate-limit probe, which runs alongside the
rest only from a source address of its own, else alone after them).

Adding a check: write ``check_x`` in its family module, add one row here, and a test showing it
fail on a site wrong in exactly that way.
"""

from __future__ import annotations

from pytest_prodcheck.core.checks import CheckSpec, CheckTable, Shared
from pytest_prodcheck.probes.http import (
    check_body_limit,
    check_csp,
    check_gzip,
    check_hsts,
    check_https_redirect,
    check_keepalive,
    check_rate_limit,
    check_server_banner,
    check_static_cache,
    check_www_redirect,
    check_x_content_type_options,
    check_x_frame_options,
    fetch_pages,
)
from pytest_prodcheck.probes.http.pages import PageSet
from pytest_prodcheck.probes.tls.alpn import check_alpn
from pytest_prodcheck.probes.tls.chain import check_chain
from pytest_prodcheck.probes.tls.ciphers import check_ciphers
from pytest_prodcheck.probes.tls.expiry import check_expiry
from pytest_prodcheck.probes.tls.handshake import Handshake
from pytest_prodcheck.probes.tls.hostname import check_hostname, handshakes
from pytest_prodcheck.probes.tls.keys import check_key
from pytest_prodcheck.probes.tls.mozilla import check_cert_profile, check_groups
from pytest_prodcheck.probes.tls.ocsp import check_ocsp
from pytest_prodcheck.probes.tls.protocols import check_protocols
from pytest_prodcheck.probes.tls.scan import TlsScan, scan_tls
from pytest_prodcheck.probes.tls.target import SiteTarget

__all__ = ["INPUT_GROUPS", "SITE_CHECKS", "SiteCheck", "SiteInputs"]

# groups whose shared input is fetched before their checks run, and how a failure to fetch it
# is reported on each of them
INPUT_GROUPS = {"scan": "TLS scan failed: ", "handshakes": "", "pages": ""}


class SiteInputs:
    """The target and what its checks share, each fetched once on first use (thread-safe)."""

    def __init__(self, target: SiteTarget) -> None:
        self.target = target
        self._scan = Shared(lambda: scan_tls(target))
        self._handshakes = Shared(lambda: handshakes(target))
        self._pages = Shared(lambda: fetch_pages(target))

    @property
    def scan(self) -> TlsScan:
        return self._scan.get()

    @property
    def handshakes(self) -> list[Handshake]:
        return self._handshakes.get()

    @property
    def pages(self) -> PageSet:
        return self._pages.get()

    @property
    def apex_handshake(self) -> Handshake | None:
        return next((h for h in self.handshakes if h.name == self.target.apex), None)

    def prepare(self, group: str) -> None:
        """Fetch the shared input of ``group`` now (raising what fetching it raised)."""
        if group == "scan":
            self._scan.get()
        elif group == "handshakes":
            self._handshakes.get()
        elif group == "pages":
            self._pages.get()


SiteCheck = CheckSpec[SiteInputs]

_TLS_SMOKE = ("tls", "smoke")
_HTTP_SMOKE = ("http", "smoke")
_SSL = "testing.ssl-configuration"
_CERTS = "predeploy.ssl-certificates"
_HTTPS = "security.https-only"
_HEADERS = ("predeploy.security-headers", "testing.security-audit")


def _rows() -> list[SiteCheck]:
    return [
        CheckSpec("tls.protocols", lambda i: check_protocols(i.scan, i.target.expect), "scan",
                  (_SSL, _HTTPS), _TLS_SMOKE, "only TLS 1.2 and 1.3 offered"),
        CheckSpec("tls.ciphers", lambda i: check_ciphers(i.scan, i.target.expect), "scan",
                  (_SSL, _HTTPS), _TLS_SMOKE, "only the profile's cipher suites"),
        CheckSpec("tls.cert.chain", lambda i: check_chain(i.scan, i.target), "scan",
                  (_CERTS, _SSL), _TLS_SMOKE, "the served chain verifies"),
        CheckSpec("tls.cert.hostname", lambda i: check_hostname(i.target, i.handshakes),
                  "handshakes", (_CERTS, "predeploy.dns"), _TLS_SMOKE,
                  "the certificate covers every name"),
        CheckSpec("tls.cert.expiry", lambda i: check_expiry(i.scan, i.target.expect), "scan",
                  (_CERTS, _SSL), _TLS_SMOKE, "enough days left"),
        CheckSpec("tls.cert.key", lambda i: check_key(i.scan), "scan",
                  (_CERTS, _SSL), _TLS_SMOKE, "a strong key"),
        CheckSpec("tls.cert.profile", lambda i: check_cert_profile(i.scan, i.target.expect),
                  "scan", (_CERTS, _SSL), _TLS_SMOKE, "the leaf is of the Mozilla profile"),
        CheckSpec("tls.groups", lambda i: check_groups(i.scan, i.target.expect), "scan",
                  (_SSL,), _TLS_SMOKE, "only the profile's key-exchange groups"),
        CheckSpec("tls.ocsp-stapling", lambda i: check_ocsp(i.scan), "scan",
                  (_SSL,), ("tls",), "an OCSP response is stapled"),
        CheckSpec("tls.alpn-h2", lambda i: check_alpn(i.target, i.apex_handshake), "handshakes",
                  (_SSL,), _TLS_SMOKE, "HTTP/2 negotiated by ALPN"),
        CheckSpec("http.https-redirect", lambda i: check_https_redirect(i.target), "site",
                  (_HTTPS,), _HTTP_SMOKE, "plain HTTP redirects to HTTPS"),
        CheckSpec("http.www-redirect", lambda i: check_www_redirect(i.target), "site",
                  ("predeploy.dns", _HTTPS), _HTTP_SMOKE, "www redirects to the apex"),
        CheckSpec("headers.hsts", lambda i: check_hsts(i.pages, i.target.expect), "pages",
                  ("predeploy.security-headers", _HTTPS, "testing.security-audit"), _HTTP_SMOKE,
                  "Strict-Transport-Security on every page"),
        CheckSpec("headers.x-frame-options", lambda i: check_x_frame_options(i.pages), "pages",
                  _HEADERS, _HTTP_SMOKE, "X-Frame-Options on every page"),
        CheckSpec("headers.x-content-type-options",
                  lambda i: check_x_content_type_options(i.pages), "pages",
                  _HEADERS, _HTTP_SMOKE, "X-Content-Type-Options: nosniff"),
        CheckSpec("headers.csp", lambda i: check_csp(i.pages), "pages",
                  _HEADERS, _HTTP_SMOKE, "a Content-Security-Policy"),
        CheckSpec("http.gzip", lambda i: check_gzip(i.pages), "pages",
                  ("performance.gzip",), _HTTP_SMOKE, "text responses gzip-encoded"),
        CheckSpec("http.static-cache", lambda i: check_static_cache(i.target), "site",
                  (), _HTTP_SMOKE, "static files cached long"),
        CheckSpec("http.keepalive", lambda i: check_keepalive(i.target), "site",
                  (), _HTTP_SMOKE, "connections kept alive"),
        CheckSpec("http.rate-limit", lambda i: check_rate_limit(i.target), "burst",
                  ("security.rate-limiting",), ("http",), "bursts answered with 429"),
        CheckSpec("http.body-limit", lambda i: check_body_limit(i.target), "site",
                  ("security.rate-limiting", "testing.security-audit"), _HTTP_SMOKE,
                  "oversized bodies refused"),
        CheckSpec("http.server-banner", lambda i: check_server_banner(i.pages), "pages",
                  _HEADERS, _HTTP_SMOKE, "no version in the Server header"),
    ]  # fmt: skip


SITE_CHECKS: CheckTable[SiteInputs] = CheckTable("site", _rows())
