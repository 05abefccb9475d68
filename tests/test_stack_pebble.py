"""PebbleServer: real pebble + pebble-challtestsrv processes on free loopback ports."""

from __future__ import annotations

import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from pytest_prodcheck.core.errors import ConfigError, ToolError
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.stack import pebble as pebble_mod
from pytest_prodcheck.stack.pebble import PebbleServer


@pytest.fixture(scope="module")
def pebble() -> Iterator[PebbleServer]:
    with PebbleServer(make_tempdir("pebble-test-"), http_port=free_port()) as p:
        yield p


def _get(url: str, cafile: str | None) -> bytes:
    ctx = ssl.create_default_context(cafile=cafile)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ctx)
    )
    with opener.open(url, timeout=5) as resp:
        return bytes(resp.read())


def test_directory_answers_over_tls_trusted_via_api_ca(pebble: PebbleServer) -> None:
    assert pebble.running
    assert pebble.directory_url.startswith("https://127.0.0.1:") and pebble.directory_url.endswith(
        "/dir"
    )
    body = _get(pebble.directory_url, str(pebble.api_ca_path))
    assert b"newOrder" in body and b"newAccount" in body


def test_api_certificate_is_not_trusted_by_the_system_store(pebble: PebbleServer) -> None:
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        _get(pebble.directory_url, None)


def test_roots_and_intermediates_are_pem_of_pebble_ca(pebble: PebbleServer) -> None:
    root = x509.load_pem_x509_certificate(pebble.roots_pem().encode())
    inter = x509.load_pem_x509_certificate(pebble.intermediates_pem().encode())
    assert "Pebble Root CA" in root.subject.rfc4514_string()
    assert inter.issuer == root.subject


def test_mock_dns_answers_ipv4_only(pebble: PebbleServer) -> None:
    host, port = pebble.dns_address.split(":")
    dig = subprocess.run(
        ["python3", "-c", _DNS_QUERY, host, port], capture_output=True, text=True, timeout=10
    )
    assert dig.stdout.split() == ["A=127.0.0.1", "AAAA=none"], dig.stderr


# a tiny DNS client (no dnspython here): one A and one AAAA query, print the answers
_DNS_QUERY = r"""
import socket, struct, sys
def ask(qtype):
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in "api.shop.test".split(".")) + b"\0"
    q += struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
    s.sendto(q, (sys.argv[1], int(sys.argv[2]))); data = s.recv(512)
    ancount = struct.unpack(">H", data[6:8])[0]
    if not ancount:
        return "none"
    if qtype == 1 and bytes([127, 0, 0, 1]) in data[12:]:
        return "127.0.0.1"
    return "other"
print("A=" + ask(1), "AAAA=" + ask(28))
"""


def test_roots_change_on_every_start() -> None:
    workdir = make_tempdir("pebble-twice-")
    with PebbleServer(workdir / "a", http_port=free_port()) as first:
        root_a = first.roots_pem()
    with PebbleServer(workdir / "b", http_port=free_port()) as second:
        root_b = second.roots_pem()
    assert root_a != root_b


def test_stop_leaves_no_process_and_is_idempotent() -> None:
    p = PebbleServer(make_tempdir("pebble-stop-"), http_port=free_port()).start()
    pids = [proc.pid for proc in p._procs]
    p.stop()
    p.stop()
    assert not p.running
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            import os

            os.kill(pid, 0)


def test_not_started_is_a_clear_error() -> None:
    p = PebbleServer(make_tempdir("pebble-idle-"), http_port=5002)
    with pytest.raises(ToolError, match=r"call PebbleServer.start\(\) first"):
        _ = p.directory_url


def test_invalid_http_port_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not a TCP port"):
        PebbleServer(make_tempdir("pebble-port-"), http_port=70000)


def test_missing_binary_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pebble_mod, "PEBBLE_BIN", "pebble-not-installed")
    with pytest.raises(ToolError, match="install the Debian package 'pebble'"):
        PebbleServer(make_tempdir("pebble-missing-"), http_port=free_port()).start()


def test_pebble_that_exits_at_start_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # a port pebble cannot bind (already in use by a listening socket of ours)
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        ports = iter([taken] * 20)
        monkeypatch.setattr(pebble_mod, "free_port", lambda: next(ports))
        with pytest.raises(ToolError, match=r"ports were taken|did not start"):
            PebbleServer(make_tempdir("pebble-busy-"), http_port=5002, dns_port=taken).start()


def test_sigterm_to_the_owning_process_leaves_no_pebble() -> None:
    import os
    import signal
    import sys
    import time

    script = (
        "import sys, time\n"
        "from pytest_prodcheck.core.ports import free_port\n"
        "from pytest_prodcheck.core.proc import make_tempdir\n"
        "from pytest_prodcheck.stack.pebble import PebbleServer\n"
        "p = PebbleServer(make_tempdir('pebble-sigterm-'), free_port()).start()\n"
        "print(*[proc.pid for proc in p._procs], flush=True)\n"
        "time.sleep(60)\n"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert owner.stdout is not None
        pids = [int(x) for x in owner.stdout.readline().split()]
        assert len(pids) == 2
        owner.send_signal(signal.SIGTERM)
        owner.wait(10)
        deadline = time.monotonic() + 5
        alive = pids
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
            time.sleep(0.02)
        assert not alive, f"left running: {alive}"
    finally:
        if owner.poll() is None:
            os.killpg(owner.pid, signal.SIGKILL)
