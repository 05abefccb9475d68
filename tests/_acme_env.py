"""A real ACME setup for the acme tests: Pebble validating HTTP-01 through a real nginx.

    env = AcmeEnv.start()           # nginx serving a bootstrap cert from a lineage store + pebble
    env.request()                   # IssueRequest for shop.test + www/api/monitoring
    env.served("api.shop.test")     # the ServedCertificate nginx sends now (verified vs pebble root)
    env.stop()
    with RateLimitingCA(workdir) as ca: ...   # an ACME CA whose new-order answer is rateLimited

Not a fixture module (fixtures live in each test module); imported by tests/test_acme_*.py and
tests/test_cli_ssl.py.
"""

from __future__ import annotations

import itertools
import json
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pytest_prodcheck import acme
from pytest_prodcheck.acme.checks import ServedCertificate, fetch_served
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.stack.certs import issue_leaf, make_ca, write_pem
from pytest_prodcheck.stack.nginx import NginxOptions, NginxServer
from pytest_prodcheck.stack.pebble import PebbleServer

DOMAIN = "shop.test"
NAMES = ("shop.test", "www.shop.test", "api.shop.test", "monitoring.shop.test")


@dataclass
class AcmeEnv:
    root: Path
    store: acme.LineageStore
    nginx: NginxServer
    pebble: PebbleServer
    roots: Path  # pebble's issuing root (per start)

    @classmethod
    def start(cls, **pebble_kw: Any) -> AcmeEnv:
        """Pebble never reuses authorizations here (deterministic faults) unless told to."""
        pebble_kw.setdefault("authz_reuse", 0)
        root = make_tempdir("acme-test-")
        store = acme.LineageStore(root / "ssl")
        # the guide's step 1: the server starts with a throwaway certificate (HTTP-only mode)
        write_pem(issue_leaf(make_ca("bootstrap CA"), list(NAMES)), store.live_dir(DOMAIN))
        http, https = free_port(), free_port()
        options = NginxOptions(
            http_port=http,
            https_port=https,
            upstream_port=free_port(),
            cert_path=str(store.fullchain_path(DOMAIN)),
            key_path=str(store.privkey_path(DOMAIN)),
            ocsp_stapling=False,
        )
        nginx = NginxServer(root / "nginx", options).start()
        try:
            pebble = PebbleServer(root / "pebble", http, **pebble_kw).start()
        except BaseException:
            nginx.stop()
            raise
        roots = root / "pebble-roots.pem"
        roots.write_text(pebble.roots_pem())
        return cls(root, store, nginx, pebble, roots)

    def stop(self) -> None:
        self.pebble.stop()
        self.nginx.stop()
        remove_tempdir(self.root)

    @property
    def https(self) -> tuple[str, int]:
        return ("127.0.0.1", self.nginx.options.https_port)

    def request(self, **kw: Any) -> acme.IssueRequest:
        args: dict[str, Any] = {
            "directory": self.pebble.directory_url,
            "webroot": self.nginx.webroot,
            "ca_bundle": self.pebble.api_ca_path,
            "reload_command": self.nginx.reload_command,
        }
        args.update(kw)
        return acme.IssueRequest.build(DOMAIN, "admin@shop.test", **args)

    def issue_and_wait(self, **kw: Any) -> acme.IssueOutcome:
        """Issue + wait until nginx's old workers (old certificate) are gone."""
        old = self.nginx.workers()
        outcome = acme.issue(self.request(**kw), self.store)
        self.wait_workers_replaced(old)
        return outcome

    def wait_workers_replaced(self, old: set[int], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self.nginx.workers()
            if current and not current & old:
                return
            time.sleep(0.005)
        raise AssertionError("nginx did not reload (old workers still running)")

    def served(self, name: str = DOMAIN, trust: Path | None = None) -> ServedCertificate:
        return fetch_served(self.https, name, trust=trust or self.roots)

    def live_bytes(self) -> tuple[bytes, bytes]:
        live = self.store.read(DOMAIN)
        assert live is not None
        return live


class RateLimitingCA:
    """A minimal ACME server (over TLS) that accepts any account and answers every new order
    with Let's Encrypt's ``429 rateLimited`` problem. Pebble has no rate limits, so this stands
    in for a CA that rate-limits us; the real client talks real HTTP to it.

        with RateLimitingCA(workdir) as ca:
            AcmeClient(ca.directory_url, ca_bundle=ca.ca_path)
    """

    DETAIL = 'too many certificates (5) already issued for this exact set of domains: "shop.test"'

    def __init__(self, workdir: Path) -> None:
        paths = write_pem(issue_leaf(make_ca("rate-limiting CA"), ["127.0.0.1"]), workdir)
        self.ca_path = paths.ca
        nonces = itertools.count(1)
        detail = self.DETAIL

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(
                self, code: int, body: dict[str, Any] | None, ctype: str, **hdr: str
            ) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(code)
                self.send_header("Replay-Nonce", f"bm9uY2{next(nonces):06d}")
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for key, value in hdr.items():
                    self.send_header(key.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(data)

            def do_HEAD(self) -> None:
                self._answer(200, None, "application/json")

            def do_GET(self) -> None:
                base = f"https://{self.headers['Host']}"
                directory = {k: f"{base}/{k}" for k in ("newNonce", "newAccount", "newOrder")}
                self._answer(200, directory, "application/json")

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                base = f"https://{self.headers['Host']}"
                if self.path == "/newAccount":
                    body = {"status": "valid", "contact": []}
                    self._answer(201, body, "application/json", Location=f"{base}/acct/1")
                    return
                problem = {"type": "urn:ietf:params:acme:error:rateLimited", "detail": detail}
                self._answer(429, problem, "application/problem+json", Retry_After="3600")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(paths.fullchain, paths.privkey)
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}/dir"

    def __enter__(self) -> RateLimitingCA:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
