"""Run the shop as a child process (uvicorn) on a free loopback port, and stop it for sure.

    >>> with ShopServer(dsn, ai_dsn) as shop:                # doctest: +SKIP
    ...     requests.get(shop.url + "/health").json()
    {'status': 'ok', 'databases': {'main': 'ok', 'ai': 'ok'}}

The DSNs travel in the child's environment (never argv, so ``ps`` shows no password). The child
is a :class:`~pytest_prodcheck.core.proc.ManagedProcess`: own process group, reaped at exit,
on SIGTERM and by the next run after a SIGKILL. :meth:`ShopServer.stop` sends SIGTERM (uvicorn
shuts down gracefully, closing its pools), then SIGKILLs the group after ``stop_timeout``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from pytest_prodcheck.core.errors import ProdcheckError, TargetUnreachable, ToolError
from pytest_prodcheck.core.ports import free_port, wait_port
from pytest_prodcheck.core.proc import ManagedProcess, make_tempdir
from pytest_prodcheck.core.secrets import mask_text
from pytest_prodcheck.shop.settings import AI_DSN_ENV, DSN_ENV


class ShopServer:
    """The shop under uvicorn in a subprocess; ``url`` is ``http://host:port``."""

    def __init__(
        self,
        dsn: str,
        ai_dsn: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        workers: int = 0,  # 0: one per CPU core
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
        start_timeout: float = 20.0,
        stop_timeout: float = 8.0,
        log_level: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.dsn, self.ai_dsn = dsn, ai_dsn
        self.host, self.port, self.workers = host, port, workers
        self.log_path = log_path or make_tempdir("shop-") / "shop.log"
        self.extra_env = dict(env or {})
        self.start_timeout, self.stop_timeout = start_timeout, stop_timeout
        self.log_level, self.cwd = log_level, cwd
        self.process = ManagedProcess("shop")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(self.extra_env)
        env[DSN_ENV], env[AI_DSN_ENV] = self.dsn, self.ai_dsn
        return env

    def _argv(self, port: int) -> list[str]:
        argv = [sys.executable, "-m", "pytest_prodcheck.shop", "serve", "--host", self.host,
                "--port", str(port), "--workers", str(self.workers)]  # fmt: skip
        return argv + (["--log-level", self.log_level] if self.log_level else [])

    def launch(self) -> ShopServer:
        """Start the process on ``port`` (which must be set) without waiting for it.

        For callers that start other services meanwhile; then :meth:`wait_healthy`.
        """
        if not self.port:
            raise ToolError("ShopServer.launch() needs a port: pass port= (start() picks one)")
        self.process.start(
            self._argv(self.port), env=self._env(), cwd=self.cwd, log_path=self.log_path
        )
        return self

    def wait_healthy(self, deadline: float, secrets: Sequence[str] = ()) -> None:
        """Return once ``/health`` answers 200 (both pools open); raise before ``deadline``
        (``time.monotonic()``) runs out or when the process exits (its log tail, masked)."""
        url = f"{self.url}/health"
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.process.alive:
                tail = mask_text(self.log_tail(), extra=secrets)
                raise ToolError(f"the shop exited during start-up: {tail}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.02)
        raise TargetUnreachable(f"the shop's /health did not answer 200 in time (last: {last})")

    def start(self) -> ShopServer:
        """Start and wait until the port accepts connections (the pools are open by then)."""
        fixed = self.port
        for _attempt in range(3):
            port = fixed or free_port(self.host)
            self.process.start(
                self._argv(port), env=self._env(), cwd=self.cwd, log_path=self.log_path
            )
            try:
                wait_port(self.host, port, self.start_timeout, proc=self.process)
            except ProdcheckError:
                self.process.stop(signal.SIGKILL, timeout=1)
                if fixed or "address already in use" not in self.log_tail().lower():
                    break
                continue
            self.port = port
            return self
        raise ToolError(
            f"the shop did not start on {self.host}: "
            f"{mask_text(self.log_tail()) or 'no output'} (log: {self.log_path})"
        )

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])

    @property
    def alive(self) -> bool:
        return self.process.alive

    def stop(self) -> int | None:
        """SIGTERM (graceful), SIGKILL the group after ``stop_timeout``; returns the exit code."""
        return self.process.stop(signal.SIGTERM, timeout=self.stop_timeout)

    def __enter__(self) -> ShopServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
