"""The Docker engine: the user's (used as is, never stopped) or a private ``dockerd`` of ours.

    >>> with engine_session() as engine:        # finds one, or starts a private one (as root)
    ...     engine.host, engine.owned
    ('unix:///run/prodcheck-docker/docker.sock', True)
    >>> # ... on exit a private engine this process started is stopped

Where an engine is looked for: ``$DOCKER_HOST`` when set (only there), else the system socket
``/var/run/docker.sock``, else our private socket ``/run/prodcheck-docker/docker.sock`` (an engine
``prodcheck docker up --detach`` left running, or another run's). When none answers and we are
root with ``dockerd`` installed, a private engine starts (~2 s): its own socket, exec root and
pidfile under ``/run/prodcheck-docker/``, its data root (images: the build cache) under
``/var/lib/prodcheck-docker`` so a second run finds its images; no iptables rules, no
``docker0`` bridge, no IP forwarding: it changes nothing on the host's network. Containers
publish on loopback addresses only.

The private engine is a :class:`~pytest_prodcheck.core.proc.ManagedProcess` of the process that
started it: it dies with that process (a SIGKILLed run's engine is reaped by the next run), so
under pytest-xdist keep every docker test on one worker (``xdist_group``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pytest_prodcheck.core.proc import ManagedProcess
from pytest_prodcheck.dockerhost.errors import DockerUnavailable
from pytest_prodcheck.dockerhost.sdk import sdk

SYSTEM_HOST = "unix:///var/run/docker.sock"
PRIVATE_RUN = Path(os.environ.get("PRODCHECK_DOCKER_RUN", "/run/prodcheck-docker"))
PRIVATE_HOST = f"unix://{PRIVATE_RUN}/docker.sock"
DEFAULT_DATA_ROOT = os.environ.get("PRODCHECK_DOCKER_DATA_ROOT", "/var/lib/prodcheck-docker")
DOCKERD = os.environ.get("PRODCHECK_DOCKERD", "dockerd")
START_TIMEOUT_S = 40.0

Progress = Callable[[str], None]


def _quiet(_line: str) -> None:
    pass


def ping(host: str, timeout: float = 2.0) -> str | None:
    """Why no engine answers ``GET /_ping`` at ``host``, or None when one does."""
    parts = urlsplit(host)
    try:
        if parts.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(parts.path)
        elif parts.scheme in ("tcp", "http"):
            sock = socket.create_connection((parts.hostname or "", parts.port or 2375), timeout)
        else:
            return f"DOCKER_HOST={host!r} is not supported: use unix:// or tcp://"
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            answer = sock.recv(64)
    except OSError as exc:
        return f"no Docker engine answers at {host} ({exc.strerror or exc})"
    if b" 200 " not in answer:
        return f"the Docker engine at {host} did not answer /_ping with 200"
    return None


def start_blocker() -> str | None:
    """Why a private engine cannot be started here (not root, no dockerd), or None."""
    if os.geteuid() != 0:
        return "starting a private engine needs root: start Docker yourself and set DOCKER_HOST"
    if shutil.which(DOCKERD) is None and not Path(DOCKERD).exists():
        return (
            "dockerd is not installed: run scripts/bootstrap as root "
            "(apt-get install docker.io debootstrap)"
        )
    return None


def locate() -> tuple[str | None, str]:
    """``(host, "")`` of an engine that answers, else ``(None, why)``."""
    explicit = os.environ.get("DOCKER_HOST")
    if explicit:
        reason = ping(explicit)
        return (explicit, "") if reason is None else (None, reason)
    reasons = []
    for host in (SYSTEM_HOST, PRIVATE_HOST):
        reason = ping(host)
        if reason is None:
            return host, ""
        reasons.append(reason)
    return None, reasons[0]


@dataclass
class Engine:
    """An engine that answers at ``host``; ``owned`` = we started it (and :meth:`stop` stops it)."""

    host: str
    owned: bool = False
    process: ManagedProcess | None = None
    data_root: str | None = None
    _client: Any = field(default=None, repr=False)
    _user_lock: Any = field(default=None, repr=False)

    def client(self) -> Any:
        """A ``docker.DockerClient`` for this engine (one per engine, thread-safe for our use)."""
        if self._client is None:
            self._client = sdk().DockerClient(base_url=self.host, timeout=600)
        return self._client

    def env(self) -> dict[str, str]:
        """Environment for a ``docker`` / ``docker-compose`` child talking to this engine."""
        return {**os.environ, "DOCKER_HOST": self.host}

    def stop(self) -> None:
        """Stop the engine if we started it (SIGTERM, up to 30 s, then SIGKILL); else nothing.

        Other processes using our private engine (pytest-xdist workers, a second run) hold a
        shared lock on it: the owner waits for them to finish before stopping it.
        """
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
        if self._user_lock is not None:
            with contextlib.suppress(OSError):
                self._user_lock.close()  # releases the shared lock
            self._user_lock = None
        if self.owned and self.process is not None:
            _wait_for_other_users(USERS_WAIT_S)
            self.process.stop(signal.SIGTERM, timeout=30)
            self.process = None
            unmount_leftovers(self.data_root)

    def hold(self) -> None:
        """Mark this process as a user of the private engine (a shared lock until :meth:`stop`)."""
        if self.owned or self.host != PRIVATE_HOST or self._user_lock is not None:
            return
        with contextlib.suppress(OSError):
            fh = open(PRIVATE_RUN / "users.lock", "a")  # noqa: SIM115 - held until stop()
            fcntl.flock(fh, fcntl.LOCK_SH)
            self._user_lock = fh


def unmount_leftovers(data_root: str | None) -> list[str]:
    """Lazily unmount what a stopped private dockerd left mounted (its data root bind-mounted
    onto itself, network namespaces under its exec root); the mount points unmounted."""
    roots = [str(PRIVATE_RUN)] + ([data_root] if data_root else [])
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    points = [ln.split()[1] for ln in lines if len(ln.split()) > 1]
    done = []
    for point in sorted(points, key=len, reverse=True):
        inside = any(point == r or point.startswith(r.rstrip("/") + "/") for r in roots)
        if inside and subprocess.run(["umount", "-l", point], capture_output=True).returncode == 0:
            done.append(point)
    return done


USERS_WAIT_S = 3600.0


def _wait_for_other_users(timeout: float) -> None:
    """Block until no other process holds the private engine's users lock (or ``timeout``)."""
    try:
        fh = open(PRIVATE_RUN / "users.lock", "a")  # noqa: SIM115
    except OSError:
        return
    with fh:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                time.sleep(0.5)
                continue
            fcntl.flock(fh, fcntl.LOCK_UN)
            return


@contextlib.contextmanager
def _start_lock() -> Iterator[None]:
    PRIVATE_RUN.mkdir(parents=True, exist_ok=True)
    with open(PRIVATE_RUN / "start.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def dockerd_argv(data_root: str) -> list[str]:
    """The private engine's command line (its own socket, exec root, pidfile; no host network
    changes)."""
    return [
        DOCKERD,
        "--data-root", data_root,
        "--exec-root", str(PRIVATE_RUN / "exec"),
        "-H", PRIVATE_HOST,
        "--pidfile", str(PRIVATE_RUN / "dockerd.pid"),
        "--iptables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none",
        "--log-level=warn",
    ]  # fmt: skip


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    tail = [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]
    return " | ".join(tail) or "(no output)"


def start_private(
    data_root: str = DEFAULT_DATA_ROOT,
    *,
    detach: bool = False,
    progress: Progress = _quiet,
    timeout: float = START_TIMEOUT_S,
) -> Engine:
    """Start a private engine (or return the one already answering on the private socket).

    ``detach``: the engine outlives this process (``prodcheck docker up --detach``; stop it with
    ``prodcheck docker down``). Otherwise it is a child of this process, stopped by
    :meth:`Engine.stop` and killed with us.
    """
    blocker = start_blocker()
    if blocker:
        raise DockerUnavailable(f"no Docker engine answers and {blocker}")
    with _start_lock():
        if ping(PRIVATE_HOST) is None:
            return Engine(PRIVATE_HOST, owned=False)
        Path(data_root).mkdir(parents=True, exist_ok=True)
        (PRIVATE_RUN / "exec").mkdir(parents=True, exist_ok=True)
        log = PRIVATE_RUN / "dockerd.log"
        with contextlib.suppress(OSError):
            log.unlink()
        progress(f"docker: starting a private engine at {PRIVATE_HOST} (data root {data_root})")
        argv = dockerd_argv(data_root)
        t0 = time.monotonic()
        proc: ManagedProcess | None = None
        detached: subprocess.Popen[bytes] | None = None
        if detach:
            with open(log, "ab") as out:
                detached = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True, close_fds=True,
                )  # fmt: skip
        else:
            proc = ManagedProcess("dockerd").start(argv, log_path=log)
        while True:
            if ping(PRIVATE_HOST, timeout=1.0) is None:
                break
            exited = proc is not None and not proc.alive
            exited = exited or (detached is not None and detached.poll() is not None)
            if exited or time.monotonic() - t0 > timeout:
                if proc is not None:
                    proc.stop(signal.SIGTERM, timeout=5)
                elif detached is not None and detached.poll() is None:
                    os.killpg(detached.pid, signal.SIGKILL)
                why = "exited" if exited else f"did not answer within {timeout:g} s"
                raise DockerUnavailable(
                    f"the private dockerd {why}: {_log_tail(log)} (full log: {log}); "
                    "fix that, or start Docker yourself and set DOCKER_HOST"
                )
            time.sleep(0.05)
        progress(f"docker: private engine up in {time.monotonic() - t0:.1f} s")
        if detached is not None:
            return Engine(PRIVATE_HOST, owned=False)
        return Engine(PRIVATE_HOST, owned=True, process=proc, data_root=data_root)


def private_engine_pid() -> int | None:
    """PID of the running private ``dockerd`` (from its pidfile, checked against /proc)."""
    try:
        pid = int((PRIVATE_RUN / "dockerd.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if not cmdline or Path(cmdline[0].decode(errors="replace")).name != "dockerd":
        return None
    if str(PRIVATE_RUN / "dockerd.pid").encode() not in cmdline:
        return None
    return pid


def stop_private(timeout: float = 30.0, data_root: str | None = DEFAULT_DATA_ROOT) -> bool:
    """Stop the private engine whoever started it (``prodcheck docker down``); True if one ran."""
    pid = private_engine_pid()
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    unmount_leftovers(data_root)
    return True


# --- one engine per process, shared by every user in it ----------------------------------------

_lock = threading.Lock()
_shared: Engine | None = None
_users = 0


@contextlib.contextmanager
def engine_session(
    data_root: str = DEFAULT_DATA_ROOT, *, start: bool = True, progress: Progress = _quiet
) -> Iterator[Engine]:
    """Yield an engine; a private one started here is stopped when the last user leaves.

    Raises :class:`DockerUnavailable` (one line: the problem and the fix) when no engine answers
    and none can be started (``start=False``, not root, no ``dockerd``, or it fails to start).
    """
    global _shared, _users
    explicit = os.environ.get("DOCKER_HOST")
    with _lock:
        shared = _shared
    if explicit and shared is not None and explicit != shared.host:
        # another engine asked for by name: used on its own, the shared one stays as it is
        reason = ping(explicit)
        if reason is not None:
            raise DockerUnavailable(
                f"{reason}: start that engine, or unset DOCKER_HOST so that prodcheck "
                "starts a private one"
            )
        other = Engine(explicit)
        try:
            yield other
        finally:
            other.stop()
        return
    with _lock:
        if _shared is None or ping(_shared.host) is not None:
            host, reason = locate()
            if host is not None:
                _shared = Engine(host, owned=False)
            elif not start:
                raise DockerUnavailable(f"{reason}: run `prodcheck docker up`, or start Docker")
            elif explicit not in (None, "", PRIVATE_HOST):
                raise DockerUnavailable(
                    f"{reason}: start that engine, or unset DOCKER_HOST so that prodcheck "
                    "starts a private one"
                )
            else:
                _shared = start_private(data_root, progress=progress)
        _users += 1
        engine = _shared
        engine.hold()
    try:
        yield engine
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _shared is engine:
                _shared = None
                engine.stop()
