"""A small HTTP/1.1 client for probing: resolve map, own source address, raw bytes, keep-alive.

    >>> r = fetch(target, target.url_for("/"), headers={"Accept-Encoding": "gzip"})
    >>> r.status, r.header("content-encoding"), len(r.body)        # body as sent (not decoded)
    (200, 'gzip', 1234)
    >>> with Session(target, source_address="127.0.0.7") as s:       # connections are reused
    ...     codes = [s.request("GET", target.url_for("/")).status for _ in range(3)]
    >>> s.connections_opened
    1

Why not ``requests``: it cannot connect to one address while sending another name as SNI/Host
without patching the resolver, it decodes gzip bodies, and it reads ``REQUESTS_CA_BUNDLE`` from
the environment. Here TLS is not verified on purpose (the ``tls.cert.*`` checks judge the
certificate; these probes judge HTTP behaviour). Connection failures raise
:class:`~pytest_prodcheck.core.errors.TargetUnreachable` with one clear line.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.probes.tls.handshake import client_context, open_tcp
from pytest_prodcheck.probes.tls.target import SiteTarget

USER_AGENT = "pytest-prodcheck"
MAX_BODY = 8 * 1024 * 1024


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The header's value (repeated headers joined with ", "), None when absent."""
        values = self.header_all(name)
        return ", ".join(values) if values else None

    def header_all(self, name: str) -> list[str]:
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname]


class _Connection(http.client.HTTPConnection):
    """An HTTP(S) connection whose socket comes from :func:`open_tcp` (resolve map, source)."""

    def __init__(
        self,
        target: SiteTarget,
        host: str,
        port: int,
        tls: bool,
        timeout: float,
        source_address: str | None,
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self._target = target
        self._tls = tls
        self._source = source_address
        self.default_port = 443 if tls else 80  # so Host omits the default port

    def connect(self) -> None:
        sock = open_tcp(
            self._target, self.host, self.port, timeout=self.timeout, source_address=self._source
        )
        if self._tls:
            try:
                sock = client_context(("http/1.1",)).wrap_socket(sock, server_hostname=self.host)
            except (ssl.SSLError, OSError) as exc:
                sock.close()
                raise TargetUnreachable(
                    f"TLS handshake with {self.host}:{self.port} failed: {getattr(exc, 'reason', None) or exc}"
                ) from None
        self.sock = sock


def _split(url: str) -> tuple[bool, str, int, str]:
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if tls else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return tls, host, port, path


class Session:
    """Keep-alive connections per origin; counts how many TCP connections it had to open."""

    def __init__(
        self,
        target: SiteTarget,
        *,
        source_address: str | None = None,
        timeout: float | None = None,
    ) -> None:
        self.target = target
        self.source_address = source_address
        self.timeout = target.timeout if timeout is None else timeout
        self.connections_opened = 0
        self._conns: dict[tuple[bool, str, int], _Connection] = {}

    def _connection(self, tls: bool, host: str, port: int) -> _Connection:
        key = (tls, host, port)
        conn = self._conns.get(key)
        if conn is None or conn.sock is None:
            if conn is not None:
                conn.close()
            conn = _Connection(self.target, host, port, tls, self.timeout, self.source_address)
            conn.connect()
            self.connections_opened += 1
            self._conns[key] = conn
        return conn

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Response:
        tls, host, port, path = _split(url)
        all_headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
        all_headers.update(headers or {})
        for attempt in (1, 2):
            conn = self._connection(tls, host, port)
            fresh = self.connections_opened
            try:
                conn.request(method, path, body=body, headers=all_headers)
                resp = conn.getresponse()
                data = resp.read(MAX_BODY)
                if resp.will_close:
                    conn.close()
                return Response(url, resp.status, tuple(resp.getheaders()), data)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                # a kept-alive connection the server closed meanwhile: retry once on a new one
                if attempt == 2 or fresh != self.connections_opened:
                    raise TargetUnreachable(f"{host}:{port} closed the connection: {exc}") from None
            except TimeoutError:
                conn.close()
                raise TargetUnreachable(f"{url}: no response within {self.timeout:g} s") from None
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                raise TargetUnreachable(f"{url}: {exc.__class__.__name__}: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def fetch(
    target: SiteTarget,
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    source_address: str | None = None,
) -> Response:
    """One request on a fresh connection."""
    with Session(target, source_address=source_address) as session:
        return session.request(method, url, headers=headers, body=body)


def send_oversized(
    target: SiteTarget, url: str, size: int, *, wait: float = 0.5, chunk: int = 65536
) -> Response | str:
    """POST ``size`` bytes; return the response, or why none came (e.g. the server reset).

    The headers go first; a server that judges Content-Length answers 413 before the body is
    sent, so the body is only streamed when no early answer arrives within ``wait`` seconds.
    """
    tls, host, port, path = _split(url)
    sock: socket.socket = open_tcp(target, host, port)
    try:
        if tls:
            try:
                sock = client_context(("http/1.1",)).wrap_socket(sock, server_hostname=host)
            except (ssl.SSLError, OSError) as exc:
                return f"TLS handshake failed: {getattr(exc, 'reason', None) or exc}"
        netloc = host if port == (443 if tls else 80) else f"{host}:{port}"
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {netloc}\r\nUser-Agent: {USER_AGENT}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n"
            "Connection: close\r\n\r\n"
        )
        prefix = b""
        try:
            sock.sendall(head.encode("latin-1"))
            sock.settimeout(wait)
            try:
                prefix = sock.recv(1)  # TLS 1.3 tickets are consumed here, app data is not
            except (TimeoutError, ssl.SSLWantReadError):
                prefix = b""
            sock.settimeout(target.timeout)
            if not prefix:
                block = b"x" * chunk
                sent = 0
                while sent < size:
                    n = min(chunk, size - sent)
                    sock.sendall(block[:n])
                    sent += n
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the server stopped reading: its answer (if any) is waiting
        except OSError as exc:
            return f"no response ({exc.__class__.__name__}: {exc})"
        resp = http.client.HTTPResponse(_PrefixedSocket(prefix, sock), method="POST")  # type: ignore[arg-type]
        try:
            resp.begin()
            data = resp.read(MAX_BODY)
        except (http.client.HTTPException, OSError) as exc:
            return f"no response ({exc.__class__.__name__}: {exc or 'connection closed'})"
        return Response(url, resp.status, tuple(resp.getheaders()), data)
    finally:
        sock.close()


class _PrefixedRaw(io.RawIOBase):
    def __init__(self, prefix: bytes, sock: socket.socket) -> None:
        self._prefix = prefix
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        return self._sock.recv_into(buffer)


class _PrefixedSocket:
    """What :class:`http.client.HTTPResponse` needs from a socket: ``makefile``."""

    def __init__(self, prefix: bytes, sock: socket.socket) -> None:
        self._raw = _PrefixedRaw(prefix, sock)

    def makefile(self, mode: str, *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(self._raw)
