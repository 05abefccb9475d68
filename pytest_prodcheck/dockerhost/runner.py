"""Start labelled containers and wait for them, with one-line errors.

    >>> c = start_container(client, "prodcheck/postgres:…", name="prodcheck-4711-ab12cd-1-postgres",
    ...                     run_id="4711-ab12cd-1", kind="stack", network=net, aliases=("postgres",),
    ...                     ports={5432: ("127.0.10.1", 41000)}, env={"POSTGRES_PASSWORD": pw})
    >>> wait_until(c, lambda: can_connect(...), 60, what="PostgreSQL")
    >>> ContainerProcess(c).log_tail()      # what ManagedProcess offers, for code written for it

Ports are published on loopback addresses only (``ports`` maps a container port to
``(host_ip, host_port)``; a non-loopback host address is refused). A port already taken, an image
that does not exist, a container that exits while being waited on: :class:`DockerUnavailable`
naming the problem and the fix.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pytest_prodcheck.dockerhost.errors import DockerUnavailable
from pytest_prodcheck.dockerhost.labels import run_labels
from pytest_prodcheck.dockerhost.sdk import errors


def _check_loopback(ports: Mapping[int, tuple[str, int]]) -> None:
    for container_port, (host_ip, _port) in ports.items():
        if not ipaddress.ip_address(host_ip).is_loopback:
            raise DockerUnavailable(
                f"container port {container_port} would be published on {host_ip}: prodcheck "
                "publishes on loopback addresses only (127.0.0.0/8)"
            )


def _explain(exc: Exception, image: str, ports: Mapping[int, tuple[str, int]]) -> str:
    text = str(getattr(exc, "explanation", None) or exc)
    low = text.lower()
    if "address already in use" in low or "port is already allocated" in low:
        taken = ", ".join(f"{ip}:{port}" for ip, port in ports.values() if str(port) in text)
        taken = taken or ", ".join(f"{ip}:{port}" for ip, port in ports.values())
        return (
            f"port {taken} is already taken: stop what listens there "
            f"(ss -ltnp) or choose another port"
        )
    if "no such image" in low or ("not found" in low and image in text):
        return f"image {image!r} does not exist here: run `prodcheck docker images` to build it"
    return f"docker could not start a container of {image}: {text.splitlines()[0][:300]}"


def start_container(
    client: Any,
    image: str,
    *,
    name: str,
    run_id: str,
    kind: str = "stack",
    network: Any = None,
    aliases: Sequence[str] = (),
    ports: Mapping[int, tuple[str, int]] | None = None,
    env: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
    entrypoint: Sequence[str] | None = None,
    volumes: Mapping[str, Mapping[str, str]] | None = None,
    host_network: bool = False,
    user: str | None = None,
    extra_labels: Mapping[str, str] | None = None,
) -> Any:
    """Create and start a container labelled for this run (see :mod:`.labels`)."""
    errs = errors()
    APIError = errs.APIError
    ImageNotFound = errs.ImageNotFound

    ports = dict(ports or {})
    _check_loopback(ports)
    kwargs: dict[str, Any] = {
        "name": name,
        "labels": {**run_labels(kind, run_id), **(extra_labels or {})},
        "environment": dict(env or {}),
        "detach": True,
        "volumes": {k: dict(v) for k, v in (volumes or {}).items()},
        "init": False,
    }
    if command is not None:
        kwargs["command"] = list(command)
    if entrypoint is not None:
        kwargs["entrypoint"] = list(entrypoint)
    if user is not None:
        kwargs["user"] = user
    if host_network:
        kwargs["network_mode"] = "host"
    else:
        kwargs["ports"] = {f"{p}/tcp": (ip, hp) for p, (ip, hp) in ports.items()}
        if network is not None:
            kwargs["network"] = network.name
    try:
        container = client.containers.create(image, **kwargs)
    except ImageNotFound as exc:
        raise DockerUnavailable(_explain(exc, image, ports)) from None
    except APIError as exc:
        raise DockerUnavailable(_explain(exc, image, ports)) from None
    try:
        if network is not None and aliases and not host_network:
            # re-attach with the aliases (create() cannot set them)
            network.disconnect(container)
            network.connect(container, aliases=list(aliases))
        container.start()
    except APIError as exc:
        with contextlib.suppress(APIError):
            container.remove(force=True)
        raise DockerUnavailable(_explain(exc, image, ports)) from None
    return container


def logs_tail(container: Any, lines: int = 3) -> str:
    """The last non-empty log lines of ``container`` joined with `` | ``."""
    try:
        text = container.logs(tail=lines * 4).decode(errors="replace")
    except Exception:
        return "(no logs)"
    tail = [ln.strip() for ln in text.splitlines() if ln.strip()][-lines:]
    return " | ".join(tail) or "(no output)"


def is_running(container: Any) -> bool:
    with contextlib.suppress(Exception):
        container.reload()
        return bool(container.status in ("running", "created", "restarting"))
    return False


def wait_until(
    container: Any, ready: Callable[[], bool], timeout: float, *, what: str, poll: float = 0.05
) -> None:
    """Poll ``ready()`` until true; fail early (with its logs) if ``container`` exits."""
    deadline = time.monotonic() + timeout
    last_state = 0.0
    while True:
        try:
            if ready():
                return
        except Exception:  # any client error means "not yet"
            pass
        now = time.monotonic()
        if now - last_state > 0.5:
            last_state = now
            if not is_running(container):
                raise DockerUnavailable(
                    f"{what} (container {container.name}) exited while starting: "
                    f"{logs_tail(container)}"
                )
        if now > deadline:
            raise DockerUnavailable(
                f"{what} (container {container.name}) was not ready within {timeout:g} s: "
                f"{logs_tail(container)}"
            )
        time.sleep(poll)


class ContainerProcess:
    """The part of :class:`~pytest_prodcheck.core.proc.ManagedProcess` code uses, on a container."""

    def __init__(self, container: Any, name: str | None = None) -> None:
        self.container = container
        self.name = name or container.name

    @property
    def alive(self) -> bool:
        return is_running(self.container)

    @property
    def pid(self) -> int:
        self.container.reload()
        return int(self.container.attrs["State"]["Pid"])

    def log_text(self) -> str:
        try:
            return str(self.container.logs().decode(errors="replace"))
        except Exception:
            return ""

    def log_tail(self, lines: int = 3) -> str:
        return logs_tail(self.container, lines)

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            return int(self.container.wait(timeout=timeout or 1)["StatusCode"])
        except Exception:
            return None

    def stop(self, sig: int = 15, timeout: float = 5.0) -> int | None:
        with contextlib.suppress(Exception):
            self.container.remove(force=True)
        return 0

    def kill(self) -> None:
        self.stop()
