"""stack/nginx.py + conf/nginx.conf.j2: the rendered values, and a real nginx that behaves so.

Each hardening knob is shown both ways: present on the default config, and gone when the
options are wrong in exactly that way (same server, re-rendered + reloaded).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pytest_prodcheck.core.errors import ConfigError, ToolError
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.stack.certs import CertPaths, issue_leaf, make_ca, write_pem
from pytest_prodcheck.stack.nginx import (
    MOZILLA_INTERMEDIATE_CIPHERS,
    NginxOptions,
    NginxServer,
    production_options,
    render_nginx_conf,
)

NAMES = ("shop.test", "www.shop.test", "api.shop.test", "monitoring.shop.test")
SECURITY_HEADERS = (
    "Strict-Transport-Security",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Content-Security-Policy",
    "Referrer-Policy",
)


Site = tuple["NginxServer", "Client", CertPaths]
Variant = Callable[..., None]


# --- a tiny upstream app and an HTTPS client that resolves names to 127.0.0.1 --------------------


class _App(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/big":
            self._send(
                200, json.dumps([{"id": i, "name": f"product {i}"} for i in range(600)]).encode()
            )
        elif self.path.startswith("/missing"):
            self._send(404, b'{"error": "not found"}')
        else:
            self._send(200, json.dumps({"path": self.path, "headers": dict(self.headers)}).encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self._send(200, json.dumps({"received": length}).encode())

    def log_message(self, *args: object) -> None:
        pass


class Client:
    def __init__(self, port: int, ca: Path, http_port: int) -> None:
        self.port, self.http_port = port, http_port
        self.ctx = ssl.create_default_context(cafile=str(ca))

    def connect(
        self, host: str, source: str = "127.0.0.1", ctx: ssl.SSLContext | None = None
    ) -> http.client.HTTPSConnection:
        conn = http.client.HTTPSConnection(host, self.port, context=ctx or self.ctx, timeout=10)
        raw = socket.create_connection(("127.0.0.1", self.port), 10, (source, 0))
        conn.sock = (ctx or self.ctx).wrap_socket(raw, server_hostname=host)
        return conn

    def get(
        self,
        host: str,
        path: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = self.connect(host)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def plain(self, host: str, path: str) -> tuple[int, http.client.HTTPMessage]:
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            conn.request("GET", path, headers={"Host": host})
            resp = conn.getresponse()
            resp.read()
            return resp.status, resp.headers
        finally:
            conn.close()

    def burst(self, host: str, path: str, n: int, source: str) -> tuple[list[int], float]:
        """``n`` back-to-back requests on one keepalive connection from ``source``.

        Returns the statuses and the seconds the burst took (the bucket refills meanwhile).
        """
        conn = self.connect(host, source=source)
        statuses = []
        started = time.monotonic()
        try:
            for _ in range(n):
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                statuses.append(resp.status)
        finally:
            conn.close()
        return statuses, time.monotonic() - started


@pytest.fixture(scope="module")
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _App)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def site(upstream: int) -> Iterator[Site]:
    work = make_tempdir("test-nginx-")
    ca = make_ca()
    paths = write_pem(issue_leaf(ca, list(NAMES)), work / "certs")
    options = NginxOptions(
        http_port=free_port(),
        https_port=free_port(),
        upstream_port=upstream,
        cert_path=str(paths.fullchain),
        key_path=str(paths.privkey),
        rate_limit_exempt=("127.0.0.1",),
    )
    server = NginxServer(work, options)
    server.write_config()
    (server.static_dir / "app.css").write_text("body { color: #333; }\n" * 40)
    server.start()
    yield server, Client(options.https_port, paths.ca, options.http_port), paths
    server.stop()
    remove_tempdir(work)


@pytest.fixture
def variant(site: Site) -> Iterator[Variant]:
    """Reload the module's nginx with changed options; restore the good config afterwards."""
    server, _client, _paths = site
    good = server.options

    def apply(**changes: object) -> None:
        server.set_options(replace(good, **changes))  # type: ignore[arg-type]
        server.reload(wait=True)

    yield apply
    if server.options != good:
        server.set_options(good)
        server.reload(wait=True)


# --- the rendered text ----------------------------------------------------------------------------


def test_rendered_defaults_carry_the_guides_values() -> None:
    text = render_nginx_conf(NginxOptions(http_port=8080, https_port=8443), "/srv/ngx")
    for needle in (
        "ssl_protocols TLSv1.2 TLSv1.3;",
        f"ssl_ciphers {MOZILLA_INTERMEDIATE_CIPHERS};",
        "listen 127.0.0.1:8443 ssl http2;",
        "zone=general:10m rate=10r/s;",
        "zone=api:10m rate=30r/s;",
        "client_max_body_size 1m;",
        "server_tokens off;",
        "gzip on;",
        'add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;',
        'add_header X-Frame-Options "DENY" always;',
        'add_header X-Content-Type-Options "nosniff" always;',
        "add_header Content-Security-Policy",
        "keepalive_timeout 65s;",
        "ssl_stapling on;",
        "return 301 https://$host:8443$request_uri;",
        "return 301 https://shop.test:8443$request_uri;",
        "server_name shop.test www.shop.test api.shop.test monitoring.shop.test;",
        "location ^~ /.well-known/acme-challenge/",
        "root /srv/ngx/webroot;",
        "ssl_reject_handshake on;",
        "stub_status;",
        "daemon off;",
        "pid /srv/ngx/nginx.pid;",
    ):
        assert needle in text, needle


def test_rendered_production_form() -> None:
    text = render_nginx_conf(production_options("example.com"), "/etc/nginx")
    assert "listen 80 default_server;" in text
    assert "listen 443 ssl http2;" in text
    assert "return 301 https://$host$request_uri;" in text
    assert "return 301 https://example.com$request_uri;" in text
    assert "ssl_certificate /etc/letsencrypt/live/example.com/fullchain.pem;" in text
    assert "server app:8000;" in text
    assert "user www-data;" in text
    assert "127.0.0.1 1;" not in text  # no rate-limit allowlist in production


@pytest.mark.parametrize(
    ("change", "gone"),
    [
        ({"hsts": False}, "Strict-Transport-Security"),
        ({"security_headers": False}, "X-Frame-Options"),
        ({"gzip": False}, "gzip on;"),
        ({"server_tokens": True}, "server_tokens off;"),
        ({"http2": False}, "ssl http2"),
        ({"redirect_https": False}, "return 301 https://$host"),
        ({"protocols": ("TLSv1.2",)}, "TLSv1.2 TLSv1.3"),
        ({"rate_limit_general": 100}, "rate=10r/s"),
        ({"body_limit": "50m"}, "client_max_body_size 1m;"),
        ({"ocsp_stapling": False}, "ssl_stapling on;"),
    ],
)
def test_each_knob_changes_the_rendering(change: dict[str, object], gone: str) -> None:
    good = NginxOptions(http_port=8080, https_port=8443)
    assert gone in render_nginx_conf(good, "/p")
    assert gone not in render_nginx_conf(replace(good, **change), "/p")  # type: ignore[arg-type]


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="http_port=0"):
        NginxOptions(http_port=0)
    with pytest.raises(ConfigError, match="body_limit"):
        NginxOptions(body_limit="one megabyte")


def test_invalid_config_text_fails_with_nginx_message() -> None:
    work = make_tempdir("test-nginx-bad-")
    try:
        server = NginxServer.from_config_text(work, "daemon off; events {} http { bogus on; }\n")
        with pytest.raises(ToolError, match="bogus"):
            server.test_config()
        with pytest.raises(ToolError, match="nginx"):
            server.start(timeout=5)
        assert not server.process.alive
    finally:
        remove_tempdir(work)


# --- a live nginx -----------------------------------------------------------------------------


def test_security_headers_on_every_kind_of_path(
    site: Site,
) -> None:
    _server, client, _ = site
    for host, path in (
        ("shop.test", "/"),
        ("shop.test", "/api/products"),
        ("shop.test", "/static/app.css"),
        ("shop.test", "/missing"),
        ("shop.test", "/static/missing.css"),
        ("api.shop.test", "/products"),
    ):
        status, headers, _ = client.get(host, path)
        missing = [h for h in SECURITY_HEADERS if h not in headers]
        assert not missing, f"{host}{path} ({status}) lacks {missing}"
        assert headers["Server"] == "nginx"


def test_header_inheritance_gotcha_is_reproducible(site: Site, variant: Variant) -> None:
    _server, client, _ = site
    variant(static_reinclude_headers=False)
    _, headers, _ = client.get("shop.test", "/static/app.css")
    assert "Cache-Control" in headers and "X-Frame-Options" not in headers
    _, headers, _ = client.get("shop.test", "/")
    assert "X-Frame-Options" in headers


def test_hsts_off_variant(site: Site, variant: Variant) -> None:
    _server, client, _ = site
    variant(hsts=False)
    _, headers, _ = client.get("shop.test", "/")
    assert "Strict-Transport-Security" not in headers and "X-Frame-Options" in headers


def test_redirects(site: Site, variant: Variant) -> None:
    _server, client, _ = site
    status, headers = client.plain("shop.test", "/cart?x=1")
    assert status == 301 and headers["Location"] == f"https://shop.test:{client.port}/cart?x=1"
    status, headers, _ = client.get("www.shop.test", "/p/1?q=2")
    assert status == 301 and headers["Location"] == f"https://shop.test:{client.port}/p/1?q=2"
    status, _ = client.plain("shop.test", "/.well-known/acme-challenge/nope")
    assert status == 404  # served from the webroot, not redirected
    variant(redirect_https=False, redirect_www=False)
    assert client.plain("shop.test", "/cart")[0] == 200
    assert client.get("www.shop.test", "/p/1")[0] == 200


def test_gzip_and_static_caching(site: Site, variant: Variant) -> None:
    _server, client, _ = site
    status, headers, body = client.get("shop.test", "/big", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and len(body) < 5000
    _, headers, _ = client.get("shop.test", "/static/app.css")
    assert headers["Cache-Control"] == "public, max-age=2592000, immutable"
    etag = headers["ETag"]
    assert client.get("shop.test", "/static/app.css", headers={"If-None-Match": etag})[0] == 304
    variant(gzip=False, static_cache=False)
    _, headers, _ = client.get("shop.test", "/big", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in headers
    assert "Cache-Control" not in client.get("shop.test", "/static/app.css")[1]


def test_body_limit(site: Site, variant: Variant) -> None:
    _server, client, _ = site
    big = b"x" * (2 * 1024 * 1024)
    assert client.get("api.shop.test", "/upload", method="POST", body=big)[0] == 413
    assert client.get("api.shop.test", "/upload", method="POST", body=b"x" * 1000)[0] == 200
    variant(body_limit="10m")
    assert client.get("api.shop.test", "/upload", method="POST", body=big)[0] == 200


def test_rate_limits_apply_to_other_sources_only(site: Site, variant: Variant) -> None:
    _server, client, _ = site
    # a dead upstream makes every passed request a cheap 502, so bursts outrun the refill even
    # on a loaded machine; nodelay: 1 + burst pass at once, then `rate` per second of the burst
    dead = free_port()
    variant(upstream_port=dead)
    general, took = client.burst("shop.test", "/", 60, source="127.0.0.2")
    passed = len(general) - general.count(429)
    assert 21 <= passed <= 21 + 10 * took + 2, (general, took)
    assert general.count(429) > 0
    api, took = client.burst("api.shop.test", "/products", 120, source="127.0.0.3")
    passed = len(api) - api.count(429)
    assert 51 <= passed <= 51 + 30 * took + 2, (api, took)
    assert api.count(429) > 0
    exempt, _ = client.burst("shop.test", "/", 60, source="127.0.0.1")
    assert exempt.count(429) == 0
    variant(upstream_port=dead, rate_limit_general=1000, burst_general=1000)
    assert client.burst("shop.test", "/", 60, source="127.0.0.4")[0].count(429) == 0


def _handshake(client: Client, host: str, ctx: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", client.port), 10)
    return ctx.wrap_socket(raw, server_hostname=host)


def test_tls_protocols_alpn_and_sni(site: Site) -> None:
    _server, client, paths = site
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = ssl.create_default_context(cafile=str(paths.ca))
        ctx.minimum_version = ctx.maximum_version = version
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with _handshake(client, "shop.test", ctx) as tls:
            assert tls.version() == version.name.replace("v", "v").replace("_", ".")
            assert tls.selected_alpn_protocol() == "h2"
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError, match=r"(?i)protocol.version|no protocols"):
        _handshake(client, "shop.test", old)
    with pytest.raises(ssl.SSLError, match=r"(?i)unrecognized.name"):
        _handshake(client, "evil.test", ssl.create_default_context(cafile=str(paths.ca)))


def test_monitoring_only_from_the_allowlist(site: Site, variant: Variant) -> None:
    _server, client, _ = site
    status, _, body = client.get("monitoring.shop.test", "/nginx_status")
    assert status == 200 and b"Active connections" in body
    for path in ("/", "/nginx_status"):
        conn = client.connect("monitoring.shop.test", source="127.0.0.5")
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status == 403, path
    variant(monitoring_allow=())
    conn = client.connect("monitoring.shop.test", source="127.0.0.5")
    conn.request("GET", "/")
    assert conn.getresponse().status == 200
    conn.close()


def test_reload_replaces_workers(site: Site) -> None:
    server, client, _ = site
    before = server.workers()
    server.reload(wait=True)
    after = server.workers()
    assert before and after and not (before & after)
    assert client.get("shop.test", "/")[0] == 200


def test_server_extra_goes_into_every_site_server() -> None:
    rule = 'if ($args ~* "%3Cscript") { return 403; }'
    text = render_nginx_conf(NginxOptions(server_extra=rule), "/p")
    assert text.count(rule) == 3  # apex, api, monitoring
    assert rule not in render_nginx_conf(NginxOptions(), "/p")
