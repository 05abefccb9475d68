"""load/_client.py: the journey's lean HTTP/1.1 client against real servers (no mocks)."""

from __future__ import annotations

import gzip
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pytest_prodcheck.load._client import HTTPStatusError, LeanSession, ResponseCheckFailed


class Events:
    def __init__(self) -> None:
        self.fired: list[dict] = []

    def fire(self, **kw: object) -> None:
        self.fired.append(kw)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    served = 0

    def log_message(self, *a: object) -> None:
        pass

    def do_GET(self) -> None:
        Handler.served += 1
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"a": ', b"[1, 2]}"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/gzip":
            body = gzip.compress(b'{"zipped": true}')
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
        elif self.path == "/close":
            body = b'{"bye": 1}'
            self.send_response(200)
            self.send_header("Connection", "close")
            self.close_connection = True
        elif self.path == "/missing":
            body = b'{"error": "not found"}'
            self.send_response(404)
        else:
            body = b'{"ok": true}'
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        n = int(self.headers["Content-Length"])
        body = self.rfile.read(n)
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_keepalive_json_chunked_gzip_and_one_event_per_request(server):
    ev = Events()
    s = LeanSession(server, ev)
    assert s.request("GET", "/x", name="/[x]").json() == {"ok": True}
    sock = s.sock
    assert s.request("GET", "/chunked").json() == {"a": [1, 2]}
    assert s.request("GET", "/gzip").json() == {"zipped": True}
    assert s.request("POST", "/echo", body=b'{"q": 1}').json() == {"q": 1}
    assert s.sock is sock  # one connection for all of them
    assert [e["name"] for e in ev.fired] == ["/[x]", "/chunked", "/gzip", "/echo"]
    assert all(e["exception"] is None and e["response_time"] >= 0 for e in ev.fired)
    s.close()


def test_status_and_check_failures_and_connection_close(server):
    ev = Events()
    s = LeanSession(server, ev)
    s.request("GET", "/missing")
    assert isinstance(ev.fired[-1]["exception"], HTTPStatusError)
    assert str(ev.fired[-1]["exception"]) == "HTTP 404"
    s.request("GET", "/x", check=lambda r: "no token")
    assert isinstance(ev.fired[-1]["exception"], ResponseCheckFailed)
    s.request("GET", "/close")
    assert s.sock is None  # the server said close
    assert s.request("GET", "/x").status == 200  # reconnects


def test_a_server_that_closed_the_idle_connection_is_retried_once(server):
    ev = Events()
    s = LeanSession(server, ev)
    s.request("GET", "/x")
    s.sock.shutdown(socket.SHUT_RDWR)  # as if the server had dropped the kept-alive socket
    assert s.request("GET", "/x").status == 200
    assert ev.fired[-1]["exception"] is None


def test_unreachable_is_a_recorded_connection_error():
    ev = Events()
    s = LeanSession("http://127.0.0.1:9", ev, timeout=2)
    assert s.request("GET", "/") is None
    assert isinstance(ev.fired[-1]["exception"], OSError)
