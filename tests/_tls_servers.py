"""Real local servers for the TLS/HTTP probe tests: a tiny upstream app, the reference nginx
(from the stack's template) configured right and wrong one knob at a time, and a "TLS zoo":
one nginx hosting one deliberately broken TLS server block per port (certificates, protocols,
suites, ALPN, OCSP stapling).

    >>> lab = Lab.create()
    >>> good = lab.site("good")                        # template defaults: everything right
    >>> bad = lab.site("no_gzip", gzip=False)          # wrong in exactly one way
    >>> lab.zoo_target("expired")                      # a zoo server block
    >>> lab.close()                                    # every nginx stopped, temp dirs removed
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import dataclass, field, replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from pytest_prodcheck.core.errors import TargetUnreachable, ToolError
from pytest_prodcheck.core.ports import free_port, wait_port
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.probes.tls.target import SiteTarget
from pytest_prodcheck.stack.certs import (
    CA,
    CertPaths,
    LeafCert,
    issue_leaf,
    make_ca,
    make_intermediate,
    utcnow,
    write_pem,
)
from pytest_prodcheck.stack.nginx import (
    MOZILLA_INTERMEDIATE_CIPHERS,
    MOZILLA_INTERMEDIATE_CURVES,
    NginxOptions,
    NginxServer,
)

NAMES = ("shop.test", "www.shop.test", "api.shop.test", "monitoring.shop.test")
HTML = (
    "<!doctype html><html><head><title>shop</title></head><body>"
    + "<p>Everything for the modern home, shipped fast.</p>" * 60
    + "</body></html>"
).encode()
PRODUCTS = json.dumps(
    [{"id": i, "name": f"product {i}", "price": 10 + i, "stock": 100 - i} for i in range(60)]
).encode()
CSS = (
    "body{font-family:sans-serif;margin:0;padding:0}\n"
    + ".card{border:1px solid #ddd;padding:8px}\n" * 60
).encode()


# --------------------------------------------------------------------------------------------
# upstream app
# --------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._send(200, "text/html; charset=utf-8", HTML)
        elif path.startswith("/api/products"):
            self._send(200, "application/json", PRODUCTS)
        else:
            self._send(404, "application/json", b'{"detail":"not found"}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)
        self._send(201, "application/json", b'{"ok":true}')


class UpstreamApp:
    """The app behind nginx: HTML on ``/``, JSON on ``/api/products``, 404 elsewhere."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> UpstreamApp:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------------------------
# certificates
# --------------------------------------------------------------------------------------------


@dataclass
class Certs:
    root: CA
    inter: CA
    paths: dict[str, CertPaths] = field(default_factory=dict)
    leaves: dict[str, LeafCert] = field(default_factory=dict)

    @property
    def ca_bundle(self) -> str:
        return str(self.paths["good"].ca)


def make_certs(directory: Path, dead_ocsp_port: int, live_ocsp_port: int) -> Certs:
    root = make_ca("prodcheck test root")
    inter = make_intermediate(root, "prodcheck test intermediate")
    now = utcnow()
    leaves = {
        "good": issue_leaf(inter, NAMES),
        "rsa": issue_leaf(inter, NAMES, key_type="rsa", key_size=2048),
        "expired": issue_leaf(inter, NAMES, not_before=now - timedelta(days=100), days=90),
        "expiring": issue_leaf(inter, NAMES, not_before=now - timedelta(days=80), days=90),
        "overdue": issue_leaf(inter, NAMES, not_before=now - timedelta(days=65), days=90),
        "wrong_host": issue_leaf(inter, ["other.test", "www.other.test"]),
        "partial_names": issue_leaf(inter, ["shop.test", "www.shop.test"]),
        "self_signed": issue_leaf(inter, NAMES, self_signed=True),
        "weak_key": issue_leaf(inter, NAMES, key_type="rsa", key_size=1024),
        "sha1": issue_leaf(inter, NAMES, hash="sha1"),
        "ocsp_dead": issue_leaf(inter, NAMES, ocsp_url=f"http://127.0.0.1:{dead_ocsp_port}/"),
        "ocsp_live": issue_leaf(inter, NAMES, ocsp_url=f"http://127.0.0.1:{live_ocsp_port}/"),
    }
    certs = Certs(root, inter)
    for name, leaf in leaves.items():
        certs.leaves[name] = leaf
        certs.paths[name] = write_pem(leaf, directory / name)
    return certs


def ocsp_response_der(leaf: LeafCert, issuer: CA) -> bytes:
    """A signed 'good' OCSP response for ``leaf`` (what a responder would return)."""
    now = utcnow()
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf.cert,
            issuer=issuer.cert,
            algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now - timedelta(minutes=5),
            next_update=now + timedelta(days=3),
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
    )
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


# --------------------------------------------------------------------------------------------
# the TLS zoo: one nginx, one broken server block per port
# --------------------------------------------------------------------------------------------

LEGACY_CIPHERS = "DEFAULT:@SECLEVEL=0"
WEAK_CIPHERS = (
    "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA:AES256-SHA256:ECDHE-RSA-AES128-SHA:NULL-SHA:@SECLEVEL=0"
)


@dataclass(frozen=True)
class ZooBlock:
    name: str
    cert: str = "good"
    fullchain: bool = True
    protocols: str = "TLSv1.2 TLSv1.3"
    ciphers: str = MOZILLA_INTERMEDIATE_CIPHERS
    curves: str = MOZILLA_INTERMEDIATE_CURVES
    http2: bool = True
    stapling: str = ""  # "" off, "fetch" (from the cert's responder), "file"


ZOO_BLOCKS = (
    ZooBlock("good"),
    ZooBlock("legacy_protocols", protocols="TLSv1 TLSv1.1 TLSv1.2 TLSv1.3", ciphers=LEGACY_CIPHERS),
    ZooBlock("weak_ciphers", cert="rsa", ciphers=WEAK_CIPHERS),
    ZooBlock("expired", cert="expired"),
    ZooBlock("expiring", cert="expiring"),
    ZooBlock("overdue", cert="overdue"),
    ZooBlock("wrong_host", cert="wrong_host"),
    ZooBlock("partial_names", cert="partial_names"),
    ZooBlock("self_signed", cert="self_signed"),
    ZooBlock("leaf_only", fullchain=False),
    ZooBlock("weak_key", cert="weak_key"),
    ZooBlock("sha1", cert="sha1"),
    ZooBlock("no_h2", http2=False),
    ZooBlock("ocsp_not_stapled", cert="ocsp_dead", stapling="fetch"),
    ZooBlock("ocsp_stapled", cert="ocsp_live", stapling="file"),
    ZooBlock("weak_groups", curves="X448:secp521r1:X25519:prime256v1"),
    ZooBlock("rsa_leaf", cert="rsa"),  # fine for intermediate, not for modern (ECDSA only)
)

_OPENSSL_CNF = """openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
CipherString = DEFAULT:@SECLEVEL=0
"""


def zoo_config(workdir: Path, certs: Certs, ports: dict[str, int], ocsp_file: Path) -> str:
    user = "user www-data www-data;\n" if os.geteuid() == 0 else ""
    blocks = []
    for b in ZOO_BLOCKS:
        paths = certs.paths[b.cert]
        cert = paths.fullchain if b.fullchain else paths.cert
        stapling = ""
        if b.stapling == "fetch":
            stapling = "ssl_stapling on; ssl_stapling_verify off; resolver 127.0.0.1;"
        elif b.stapling == "file":
            stapling = f"ssl_stapling on; ssl_stapling_verify off; ssl_stapling_file {ocsp_file};"
        blocks.append(
            f"""    server {{
        listen 127.0.0.1:{ports[b.name]} ssl{" http2" if b.http2 else ""};
        server_name {" ".join(NAMES)};
        ssl_certificate {cert}; ssl_certificate_key {paths.privkey};
        ssl_protocols {b.protocols}; ssl_ciphers {b.ciphers}; ssl_prefer_server_ciphers off;
        ssl_ecdh_curve {b.curves};
        {stapling}
        location / {{ return 200 "ok {b.name}\\n"; }}
    }}"""
        )
    body = "\n".join(blocks)
    return f"""daemon off; master_process on; worker_processes 1;
{user}pid {workdir}/nginx.pid;
error_log {workdir}/logs/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/tmp/client_body; proxy_temp_path {workdir}/tmp/proxy;
    fastcgi_temp_path {workdir}/tmp/fastcgi; uwsgi_temp_path {workdir}/tmp/uwsgi;
    scgi_temp_path {workdir}/tmp/scgi;
{body}
}}
"""


class ZooNginx(NginxServer):
    """An nginx whose OpenSSL runs at security level 0, so it can *load* RSA-1024 / SHA-1 certs."""

    def start(self, timeout: float = 10.0) -> ZooNginx:
        self.write_config()
        cnf = self.workdir / "openssl-seclevel0.cnf"
        cnf.write_text(_OPENSSL_CNF)
        env = {**os.environ, "OPENSSL_CONF": str(cnf)}
        self.process.start(self._argv(), env=env, log_path=self.workdir / "logs" / "stderr.log")
        for port in self.ports:
            try:
                wait_port("127.0.0.1", port, timeout, proc=self.process)
            except (ToolError, TargetUnreachable) as exc:
                tail = self.process.log_tail()
                self.stop()
                raise ToolError(f"zoo nginx did not start on port {port}: {tail}") from exc
        return self


# --------------------------------------------------------------------------------------------
# the lab: everything together, started lazily, stopped by close()
# --------------------------------------------------------------------------------------------


def target_for(https_port: int, http_port: int, ca_bundle: str, **kw: Any) -> SiteTarget:
    resolve = [f"{n}:{p}:127.0.0.1" for n in NAMES for p in (https_port, http_port)]
    return SiteTarget.from_args(
        f"https://shop.test:{https_port}",
        http_url=f"http://shop.test:{http_port}",
        resolve=resolve,
        ca_bundle=ca_bundle,
        names=list(NAMES[1:]),
        **kw,
    )


@dataclass
class Lab:
    workdir: Path
    app: UpstreamApp
    certs: Certs
    static_dir: Path
    sites: dict[str, tuple[NginxServer, SiteTarget]] = field(default_factory=dict)
    zoo: ZooNginx | None = None
    zoo_ports: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls) -> Lab:
        workdir = make_tempdir("tlslab-")
        app = UpstreamApp().start()
        certs = make_certs(workdir / "certs", free_port(), free_port())
        static = workdir / "static"
        static.mkdir()
        (static / "app.css").write_bytes(CSS)
        (static / "app.js").write_bytes(b"console.log('shop');\n" * 80)
        static.chmod(0o755)
        for f in static.iterdir():
            f.chmod(0o644)
        return cls(workdir, app, certs, static)

    @property
    def ca_bundle(self) -> str:
        return self.certs.ca_bundle

    def options(self, **changes: Any) -> NginxOptions:
        good = self.certs.paths["good"]
        base = NginxOptions(
            http_port=free_port(),
            https_port=free_port(),
            upstream_port=self.app.port,
            cert_path=str(good.fullchain),
            key_path=str(good.privkey),
            static_dir=str(self.static_dir),
            rate_limit_exempt=("127.0.0.1",),
            ocsp_stapling=False,
            error_log_level="warn",
            worker_connections=1024,
        )
        return replace(base, **changes)

    def site(self, name: str, **changes: Any) -> SiteTarget:
        """The reference nginx (stack template) with ``changes``; started once per name."""
        with self._lock:
            if name not in self.sites:
                opts = self.options(**changes)
                server = NginxServer(self.workdir / f"nginx-{name}", opts)
                server.static_dir.mkdir(parents=True, exist_ok=True)
                server.start()
                self.sites[name] = (
                    server,
                    target_for(opts.https_port, opts.http_port, self.ca_bundle),
                )
            return self.sites[name][1]

    def zoo_target(self, block: str) -> SiteTarget:
        with self._lock:
            if self.zoo is None:
                zdir = self.workdir / "zoo"
                zdir.mkdir()
                (zdir / "tmp").mkdir()
                (zdir / "logs").mkdir()
                self.zoo_ports = {b.name: free_port() for b in ZOO_BLOCKS}
                ocsp_file = zdir / "ocsp.der"
                ocsp_file.write_bytes(
                    ocsp_response_der(self.certs.leaves["ocsp_live"], self.certs.inter)
                )
                text = zoo_config(zdir, self.certs, self.zoo_ports, ocsp_file)
                self.zoo = ZooNginx.from_config_text(zdir, text)  # type: ignore[assignment]
                assert isinstance(self.zoo, ZooNginx)
                self.zoo.start()
        port = self.zoo_ports[block]
        return target_for(port, port, self.ca_bundle)

    def close(self) -> None:
        for server, _ in self.sites.values():
            with contextlib.suppress(Exception):
                server.stop()
        if self.zoo is not None:
            with contextlib.suppress(Exception):
                self.zoo.stop()
        self.app.stop()
        remove_tempdir(self.workdir)


def leaf_subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()
