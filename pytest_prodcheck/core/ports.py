"""Loopback ports: pick a free one, wait until one accepts connections.

    >>> port = free_port()                       # e.g. 41873, free right now
    >>> server = ManagedProcess("shop").start(["shop", "--port", str(port)])
    >>> wait_port("127.0.0.1", port, timeout=10, proc=server)   # returns once it listens
    >>> wait_port("127.0.0.1", free_port(), timeout=0.1)
    Traceback (most recent call last):
    ...
    pytest_prodcheck.core.errors.TargetUnreachable: 127.0.0.1:... did not accept connections within 0.1 s

``wait_port(..., proc=...)`` takes anything with ``name``, ``alive`` and ``log_tail()`` (a
:class:`~pytest_prodcheck.core.proc.ManagedProcess`), so a service that dies while starting
fails at once with the last lines of its log instead of after the whole timeout.
"""

from __future__ import annotations

import socket
import time
from typing import Protocol

from pytest_prodcheck.core.errors import TargetUnreachable, ToolError


class Starting(Protocol):
    """What :func:`wait_port` needs to know of the process that should open the port."""

    name: str

    @property
    def alive(self) -> bool: ...

    def log_tail(self, lines: int = 3) -> str: ...


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the kernel considers free on ``host`` (IPv4) right now (racy: retry on bind errors).

    >>> 1024 < free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_port(host: str, port: int, timeout: float = 10.0, *, proc: Starting | None = None) -> None:
    """Return once ``host:port`` accepts TCP connections; raise TargetUnreachable after ``timeout``.

    With ``proc``, fail early (ToolError with the log tail) if that process exits meanwhile.
    """
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            pass
        if proc is not None and not proc.alive:
            raise ToolError(
                f"{proc.name} exited before listening on {host}:{port}: {proc.log_tail()}"
            )
        if time.monotonic() >= deadline:
            raise TargetUnreachable(
                f"{host}:{port} did not accept connections within {timeout:g} s"
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
