"""A lean HTTP/1.1 keep-alive client for the journey user (runs inside Locust only).

    >>> session = LeanSession("https://127.0.0.1:8443", events.request, host_header="shop.test",
    ...                       ssl_context=ctx)                      # doctest: +SKIP
    >>> resp = session.request("GET", "/api/products/7", name="/api/products/[id]")  # doctest: +SKIP
    >>> resp.status, resp.json()["id"]                               # doctest: +SKIP
    (200, 7)

Why not ``FastHttpUser``'s session: profiling the bundled journey showed two thirds of the
generator's CPU in geventhttpclient's ``UserAgent`` (header objects, URL parsing, a liveness
``select``/``getsockopt`` on every request, redirect and retry machinery) and Locust's wrapper.
This client keeps one connection per user and builds each request as one ``bytes``; it parses only
the status line and the headers it needs (``Content-Length``, ``Transfer-Encoding``,
``Content-Encoding``, ``Connection``) and decodes a body only when the journey asks for it.

Semantics, as Locust's clients: every request fires ``events.request`` once (time from just
before the send to the end of the body, in ms); HTTP status >= 400, a connection error or a
``check`` that returns a message marks it failed. Redirects are not followed (a 3xx counts as
a success: the journey's routes do not redirect). A request sent on a kept-alive connection that
the server had already closed (no byte of a response came back) is retried once on a new one.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import time
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

USER_AGENT = "prodcheck-load"
RECV = 65536


class HTTPStatusError(Exception):
    """The response had a status >= 400 (``str()`` is what the failures table shows)."""


class ResponseCheckFailed(Exception):
    """The journey's own check of a response failed (e.g. no token in a login answer)."""


class _ReusedConnectionClosed(Exception):
    pass


class _NothingBack(Exception):
    """EOF or reset before the first byte of a response."""


class Response:
    __slots__ = ("_json", "body", "encoding", "status")

    def __init__(self, status: int, body: bytes, encoding: str | None) -> None:
        self.status = status
        self.body = body  # as received (maybe gzip)
        self.encoding = encoding
        self._json: Any = None

    @property
    def content(self) -> bytes:
        if self.encoding == "gzip":
            return zlib.decompress(self.body, 16 + zlib.MAX_WBITS)
        if self.encoding == "deflate":
            return zlib.decompress(self.body)
        return self.body

    def json(self) -> Any:
        """The decoded JSON body; ``None`` if it is not JSON."""
        if self._json is None:
            try:
                self._json = json.loads(self.content)
            except (ValueError, zlib.error):
                self._json = None
        return self._json


class LeanSession:
    """One keep-alive connection to ``base_url``; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        request_event: Any,
        *,
        host_header: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 60.0,
    ) -> None:
        parts = urlsplit(base_url)
        self.tls = parts.scheme == "https"
        self.address = (parts.hostname or "127.0.0.1", parts.port or (443 if self.tls else 80))
        default_port = parts.port in (None, 443 if self.tls else 80)
        host = host_header or parts.hostname or ""
        if not default_port and ":" not in host:
            host = f"{host}:{parts.port}"
        self.sni = host_header or parts.hostname
        self.ssl_context = ssl_context
        if self.tls and self.ssl_context is None:
            self.ssl_context = ssl.create_default_context()
        self.timeout = timeout
        self.prefix = (
            f"Host: {host}\r\nUser-Agent: {USER_AGENT}\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n"
        ).encode("latin-1")
        self.fire: Callable[..., None] = request_event.fire
        self.sock: Any = None
        self.buf = b""

    # -- connection ---------------------------------------------------------------------------------
    def _connect(self) -> Any:
        sock = socket.create_connection(self.address, timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            assert self.ssl_context is not None
            sock = self.ssl_context.wrap_socket(sock, server_hostname=self.sni)
        self.buf = b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None
        self.buf = b""

    # -- requests -----------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        name: str | None = None,
        body: bytes | None = None,
        headers: bytes = b"",
        check: Callable[[Response], str | None] | None = None,
    ) -> Response | None:
        """Send, read, record; the response (``None`` after a connection error)."""
        head = f"{method} {path} HTTP/1.1\r\n".encode("latin-1") + self.prefix + headers
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            data = head + body
        else:
            data = head + (b"Content-Length: 0\r\n\r\n" if method != "GET" else b"\r\n")
        start_time = time.time()
        t0 = time.perf_counter()
        resp: Response | None = None
        exc: Exception | None = None
        try:
            try:
                resp = self._exchange(data, method)
            except _ReusedConnectionClosed:
                t0 = time.perf_counter()
                resp = self._exchange(data, method)
        except _ReusedConnectionClosed:
            exc = ConnectionError("server closed the connection without answering")
        except (OSError, ValueError) as e:  # socket/TLS errors, malformed responses
            exc = e
        elapsed = (time.perf_counter() - t0) * 1000
        if resp is not None:
            if resp.status >= 400:
                exc = HTTPStatusError(f"HTTP {resp.status}")
            elif check is not None:
                why = check(resp)
                if why:
                    exc = ResponseCheckFailed(why)
        self.fire(
            request_type=method,
            name=name or path,
            response_time=elapsed,
            response_length=len(resp.body) if resp is not None else 0,
            response=resp,
            context={},
            exception=exc,
            start_time=start_time,
            url=path,
        )
        return resp

    def _exchange(self, data: bytes, method: str) -> Response:
        reused = self.sock is not None
        if not reused:
            self.sock = self._connect()
        sock = self.sock
        try:
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                raise _NothingBack from None
            return self._read(sock, method)
        except _NothingBack:
            self.close()
            if reused:  # the server closed the idle connection just before we sent
                raise _ReusedConnectionClosed from None
            raise ConnectionError("server closed the connection without answering") from None
        except (OSError, ValueError):
            self.close()
            raise

    def _read(self, sock: Any, method: str) -> Response:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        while end < 0:
            try:
                chunk = sock.recv(RECV)
            except ConnectionResetError:
                if not buf:
                    raise _NothingBack from None
                raise
            if not chunk:
                if not buf:
                    raise _NothingBack
                raise ConnectionError("connection closed in the middle of the response headers")
            buf += chunk
            end = buf.find(b"\r\n\r\n")
            if end < 0 and len(buf) > 65536:
                raise ValueError("response headers larger than 64 KiB")
        head = buf[:end].decode("latin-1")
        rest = buf[end + 4 :]
        lines = head.split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/1."):
            raise ValueError(f"not an HTTP/1.x response: {lines[0][:80]!r}")
        status = int(status_line[1])
        length = -1
        chunked = close = False
        encoding = None
        for line in lines[1:]:
            key, _, value = line.partition(":")
            k = key.strip().lower()
            if k == "content-length":
                length = int(value)
            elif k == "transfer-encoding":
                chunked = "chunked" in value.lower()
            elif k == "content-encoding":
                encoding = value.strip().lower()
            elif k == "connection":
                close = "close" in value.lower()
        if status_line[0] == "HTTP/1.0":
            close = True
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body, rest = b"", rest
        elif chunked:
            body, rest = self._read_chunked(sock, rest)
        elif length >= 0:
            while len(rest) < length:
                chunk = sock.recv(RECV)
                if not chunk:
                    raise ConnectionError("connection closed in the middle of the response body")
                rest += chunk
            body, rest = rest[:length], rest[length:]
        else:  # read to close
            parts = [rest]
            while True:
                chunk = sock.recv(RECV)
                if not chunk:
                    break
                parts.append(chunk)
            body, rest, close = b"".join(parts), b"", True
        if close:
            self.close()
        else:
            self.buf = rest
        return Response(status, body, encoding)

    def _read_chunked(self, sock: Any, rest: bytes) -> tuple[bytes, bytes]:
        parts: list[bytes] = []
        while True:
            eol = rest.find(b"\r\n")
            while eol < 0:
                rest += self._recv_some(sock)
                eol = rest.find(b"\r\n")
            size = int(rest[:eol].split(b";", 1)[0], 16)
            rest = rest[eol + 2 :]
            if size == 0:
                trailer = rest.find(b"\r\n")  # no trailers expected: just the final CRLF
                while trailer < 0:
                    rest += self._recv_some(sock)
                    trailer = rest.find(b"\r\n")
                return b"".join(parts), rest[trailer + 2 :]
            while len(rest) < size + 2:
                rest += self._recv_some(sock)
            parts.append(rest[:size])
            rest = rest[size + 2 :]

    @staticmethod
    def _recv_some(sock: Any) -> bytes:
        chunk: bytes = sock.recv(RECV)
        if not chunk:
            raise ConnectionError("connection closed in the middle of a chunked body")
        return chunk
