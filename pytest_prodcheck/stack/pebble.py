"""Pebble, Let's Encrypt's ACME test server, with its mock DNS, as child processes.

    >>> pebble = PebbleServer(workdir, http_port=nginx_http_port).start()
    >>> pebble.directory_url                     # 'https://127.0.0.1:40123/dir'
    >>> pebble.api_ca_path                       # trust this to talk ACME to pebble
    >>> roots = pebble.roots_pem()               # trust anchor for certificates pebble issues
    >>> pebble.stop()                            # or: with PebbleServer(...) as pebble: ...

``http_port`` is where pebble's validation authority connects for HTTP-01 challenges (the web
server's plain-HTTP port, which serves ``/.well-known/acme-challenge/`` from the webroot).
Every name resolves to 127.0.0.1 through ``pebble-challtestsrv`` (IPv4 only: its default ``::1``
AAAA answer breaks validation against a server listening on 127.0.0.1 only).

Pebble runs with ``PEBBLE_VA_NOSLEEP=1`` (no artificial validation delay) and
``PEBBLE_WFE_NONCEREJECT=0`` (no random badNonce) unless told otherwise. Its issuing root is
regenerated on every start: fetch it with :meth:`PebbleServer.roots_pem`, never cache it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import NoReturn

from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable, ToolError
from pytest_prodcheck.core.ports import free_port, wait_port
from pytest_prodcheck.core.proc import ManagedProcess
from pytest_prodcheck.stack.certs import issue_leaf, make_ca, write_pem

__all__ = ["PebbleServer"]

PEBBLE_BIN = os.environ.get("PRODCHECK_PEBBLE", "pebble")
CHALLTESTSRV_BIN = os.environ.get("PRODCHECK_PEBBLE_CHALLTESTSRV", "pebble-challtestsrv")
_START_TIMEOUT_S = 15.0


def _free_udp_tcp_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (the mock DNS binds both)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise ToolError("no free loopback port found for pebble's DNS: free some ports and retry")


def _write_api_tls(tls_dir: Path) -> Path:
    """A throwaway CA + pebble's API certificate (localhost, pebble, 127.0.0.1); returns the CA."""
    ca = make_ca("prodcheck pebble API CA", days=7)
    paths = write_pem(issue_leaf(ca, ["localhost", "pebble", "127.0.0.1"], days=7), tls_dir)
    return paths.ca


class PebbleServer:
    """pebble-challtestsrv (mock DNS) + pebble, started in ``workdir`` on free loopback ports.

    >>> with PebbleServer(workdir, http_port=8080) as pebble:
    ...     fetch(pebble.directory_url, verify=pebble.api_ca_path)

    ``nonce_reject`` is pebble's percentage of valid nonces rejected as bad (0 here; pebble's own
    default is 5); ``authz_reuse`` the percentage of valid authorizations handed back for reuse
    (pebble's default 50). ``external_account_required`` makes pebble refuse every account
    registration without external account binding (a CA that rejects us).
    ``domain_blocklist`` names pebble refuses in an order (``rejectedIdentifier``, as Let's
    Encrypt does for a policy-forbidden name); ``validity_s`` the lifetime of the certificates it
    issues (pebble's default: 5 years), e.g. 90 days like Let's Encrypt, or seconds to watch a
    certificate become due for renewal.
    """

    def __init__(
        self,
        workdir: Path | str,
        http_port: int,
        *,
        dns_port: int | None = None,
        nonce_reject: int = 0,
        authz_reuse: int | None = None,
        external_account_required: bool = False,
        domain_blocklist: tuple[str, ...] = (),
        validity_s: int | None = None,
    ) -> None:
        if not 0 < int(http_port) < 65536:
            raise ConfigError(f"pebble: http_port {http_port} is not a TCP port (1-65535)")
        self.workdir = Path(workdir)
        self.http_port = int(http_port)
        self.dns_port = dns_port
        self.nonce_reject = nonce_reject
        self.authz_reuse = authz_reuse
        self.external_account_required = external_account_required
        self.domain_blocklist = tuple(domain_blocklist)
        self.validity_s = validity_s
        self.acme_port = 0
        self.management_port = 0
        self._procs: list[ManagedProcess] = []
        self._dns_used = 0
        self._api_ca: Path | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> PebbleServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> PebbleServer:
        """Start the mock DNS and pebble; return once both answer (about 0.2 s)."""
        if self._procs:
            return self
        for binary in (PEBBLE_BIN, CHALLTESTSRV_BIN):
            if shutil.which(binary) is None:
                raise ToolError(f"{binary} not found on PATH: install the Debian package 'pebble'")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._api_ca = _write_api_tls(self.workdir / "tls")
        for attempt in range(3):
            try:
                self._start_once()
                return self
            except _PortTaken:
                self.stop()
                if attempt == 2:
                    raise ToolError(
                        "pebble: loopback ports were taken while starting, 3 times "
                        f"(log: {self.workdir / 'pebble.log'}): retry"
                    ) from None
            except BaseException:
                self.stop()
                raise
        return self  # pragma: no cover

    def _start_once(self) -> None:
        dns_port = self.dns_port or _free_udp_tcp_port()
        dns_mgmt = free_port()
        self.acme_port = free_port()
        self.management_port = free_port()
        tls = self.workdir / "tls"
        config = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{self.acme_port}",
                "managementListenAddress": f"127.0.0.1:{self.management_port}",
                "certificate": str(tls / "fullchain.pem"),
                "privateKey": str(tls / "privkey.pem"),
                "httpPort": self.http_port,
                "tlsPort": free_port(),  # TLS-ALPN-01 is not used; any free port
                "ocspResponderURL": "",
                "externalAccountBindingRequired": self.external_account_required,
                "externalAccountMACKeys": {},
                "domainBlocklist": list(self.domain_blocklist),
            }
        }
        if self.validity_s is not None:
            config["pebble"]["certificateValidityPeriod"] = int(self.validity_s)
        config_path = self.workdir / "pebble-config.json"
        config_path.write_text(json.dumps(config, indent=2))
        self._dns_used = dns_port
        dns = self._spawn(
            "pebble-challtestsrv",
            [
                CHALLTESTSRV_BIN,
                "-dns01", f"127.0.0.1:{dns_port}",
                "-http01", "", "-https01", "", "-tlsalpn01", "",
                "-management", f"127.0.0.1:{dns_mgmt}",
                "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
            ],
            {},
        )  # fmt: skip
        env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": str(self.nonce_reject)}
        if self.authz_reuse is not None:
            env["PEBBLE_AUTHZREUSE"] = str(self.authz_reuse)
        pebble = self._spawn(
            "pebble",
            [
                PEBBLE_BIN, "-config", str(config_path), "-strict=false",
                "-dnsserver", f"127.0.0.1:{dns_port}",
            ],
            env,
        )  # fmt: skip
        ports = ((dns, dns_mgmt), (pebble, self.acme_port), (pebble, self.management_port))
        for proc, port in ports:
            try:
                wait_port("127.0.0.1", port, _START_TIMEOUT_S, proc=proc)
            except (ToolError, TargetUnreachable) as exc:
                self._raise_start_failure(proc, exc)
        # a port that accepts may belong to someone else (picked "free", then taken): make sure
        # it is pebble answering, and that both processes are still alive
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            for proc in (dns, pebble):
                if not proc.alive:
                    self._raise_start_failure(proc, None)
            try:
                self._management_get("/roots/0", timeout=0.5)
                self._get(self.directory_url, timeout=0.5)
                break
            except ToolError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        for proc in (dns, pebble):
            if not proc.alive:
                self._raise_start_failure(proc, None)

    @staticmethod
    def _raise_start_failure(proc: ManagedProcess, cause: BaseException | None) -> NoReturn:
        proc.wait(1.0)
        if "address already in use" in proc.log_text():
            raise _PortTaken() from None
        raise ToolError(f"{proc.name} did not start: {proc.log_tail()}") from cause

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> ManagedProcess:
        proc = ManagedProcess(name).start(
            argv,
            env={**os.environ, **env},
            cwd=self.workdir,
            log_path=self.workdir / f"{name}.log",
        )
        self._procs.append(proc)
        return proc

    def stop(self) -> None:
        """Stop pebble and the mock DNS (SIGTERM, then SIGKILL after 5 s). Idempotent."""
        for proc in reversed(self._procs):
            proc.stop(timeout=5)
        self._procs.clear()

    @property
    def running(self) -> bool:
        return bool(self._procs) and all(p.alive for p in self._procs)

    # -- what clients need ----------------------------------------------------------------------
    @property
    def directory_url(self) -> str:
        """The ACME directory, ``https://127.0.0.1:<port>/dir``."""
        self._require_started()
        return f"https://127.0.0.1:{self.acme_port}/dir"

    @property
    def api_ca_path(self) -> Path:
        """PEM of the CA that signed pebble's API (and management) TLS certificate."""
        self._require_started()
        assert self._api_ca is not None
        return self._api_ca

    @property
    def dns_address(self) -> str:
        """``127.0.0.1:<port>`` of the mock DNS pebble resolves names with."""
        self._require_started()
        return f"127.0.0.1:{self._dns_used}"

    def roots_pem(self) -> str:
        """PEM of pebble's current issuing root (trust anchor for the certificates it issues)."""
        return self._management_get("/roots/0")

    def intermediates_pem(self) -> str:
        """PEM of pebble's current intermediate (what ``fullchain.pem`` carries after the leaf)."""
        return self._management_get("/intermediates/0")

    def _management_get(self, path: str, timeout: float = 10.0) -> str:
        return self._get(f"https://127.0.0.1:{self.management_port}{path}", timeout=timeout)

    def _get(self, url: str, timeout: float = 10.0) -> str:
        self._require_started()
        ctx = ssl.create_default_context(cafile=str(self.api_ca_path))
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx)
        )
        try:
            with opener.open(url, timeout=timeout) as resp:
                return str(resp.read().decode("ascii"))
        except (OSError, ValueError) as exc:
            raise ToolError(f"pebble request {url} failed: {exc}") from None

    def _require_started(self) -> None:
        if not self._procs:
            raise ToolError("pebble is not running: call PebbleServer.start() first")


class _PortTaken(Exception):
    """A port picked as free was taken before the service bound it (retry)."""
