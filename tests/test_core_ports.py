"""core/ports.py: a free loopback port, and waiting for one to accept connections."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from pytest_prodcheck.core.errors import TargetUnreachable, ToolError
from pytest_prodcheck.core.ports import free_port, wait_port
from pytest_prodcheck.core.proc import ManagedProcess


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_wait_port_returns_once_something_listens() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        timer = threading.Timer(0.2, server.listen)
        timer.start()
        try:
            wait_port("127.0.0.1", port, timeout=5)
        finally:
            timer.cancel()


def test_wait_port_times_out_and_notices_dead_process(tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(TargetUnreachable, match=r"did not accept connections within 0\.1 s"):
        wait_port("127.0.0.1", port, timeout=0.1)
    proc = ManagedProcess("quitter").start(
        ["sh", "-c", "echo boom >&2; exit 3"], log_path=tmp_path / "log"
    )
    with pytest.raises(ToolError, match=r"quitter exited before listening.*boom"):
        wait_port("127.0.0.1", port, timeout=5, proc=proc)
