"""A real ACME setup for the acme tests: Pebble validating HTTP-01 through a real nginx.

    env = AcmeEnv.start()           # nginx serving a bootstrap cert from a lineage store + pebble
    env.request()                   # IssueRequest for shop.test + www/api/monitoring
    env.served("api.shop.test")     # the ServedCertificate nginx sends now (verified vs pebble root)
    env.stop()

Not a fixture module (fixtures live in each test module); imported by tests/test_acme_*.py and
tests/test_cli_ssl.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_prodcheck import acme
from pytest_prodcheck.acme.checks import ServedCertificate, fetch_served
from pytest_prodcheck.stack._proc import free_port, make_tempdir, remove_tempdir
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
