"""Labels on everything a run creates, and reaping by label.

    >>> labels = run_labels("stack")        # {"org.prodcheck.run": "4711-9f3a1c", ...}
    >>> client.containers.run(image, labels=labels, ...)
    >>> remove_run(client, RUN_ID)         # this run's containers, networks, volumes
    >>> reap_dead(client)                  # ... and those of runs that died (SIGKILL)
    ['removed container prodcheck-4711-9f3a1c-postgres of dead run 4711-9f3a1c']

Every container, network and volume carries ``org.prodcheck.run`` (this run's id),
``org.prodcheck.pid`` and ``org.prodcheck.start`` (the owning process and its start time, so a
recycled pid is not taken for the owner) and ``org.prodcheck.host`` (the machine). A run whose
owner process is gone on this machine is dead: :func:`reap_dead` removes what it left.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_prodcheck.dockerhost.sdk import errors

RUN = "org.prodcheck.run"
PID = "org.prodcheck.pid"
START = "org.prodcheck.start"
HOST = "org.prodcheck.host"
KIND = "org.prodcheck.kind"


def _starttime(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


RUN_ID = f"{os.getpid()}-{secrets.token_hex(3)}"
_counter = itertools.count(1)


def new_run_id() -> str:
    """A fresh id for one stack of this process (``<pid>-<hex>-<n>``): stacks of one process
    are labelled (and removed) separately."""
    return f"{RUN_ID}-{next(_counter)}"


def run_labels(kind: str, run_id: str = RUN_ID) -> dict[str, str]:
    """Labels for something this process creates (``kind``: stack, compose, build, …)."""
    pid = os.getpid()
    return {
        RUN: run_id,
        PID: str(pid),
        START: _starttime(pid),
        HOST: socket.gethostname(),
        KIND: kind,
    }


def owner_alive(labels: dict[str, str]) -> bool:
    """True unless the labels name a process of this machine that is gone (or was recycled)."""
    if labels.get(HOST) != socket.gethostname():
        return True  # another machine's run: not ours to judge
    try:
        pid = int(labels.get(PID, ""))
    except ValueError:
        return False
    current = _starttime(pid)
    return bool(current) and current == labels.get(START, current)


def _remove_all(
    client: Any, wanted: Callable[[dict[str, str]], bool], why: Callable[[dict[str, str]], str]
) -> list[str]:
    errs = errors()
    APIError = errs.APIError
    NotFound = errs.NotFound

    done: list[str] = []
    for container in client.containers.list(all=True, filters={"label": RUN}):
        if wanted(container.labels):
            try:
                container.remove(force=True, v=True)
            except NotFound:
                continue
            except APIError:  # e.g. 409: another reaper is removing it right now
                if not _gone(client, container.id, NotFound):
                    continue
            done.append(f"removed container {container.name}{why(container.labels)}")
    for network in client.networks.list(filters={"label": RUN}):
        if wanted(network.attrs.get("Labels") or {}):
            with contextlib.suppress(NotFound, APIError):
                network.remove()
                done.append(f"removed network {network.name}{why(network.attrs['Labels'])}")
    for volume in client.volumes.list(filters={"label": RUN}):
        if wanted(volume.attrs.get("Labels") or {}):
            with contextlib.suppress(NotFound, APIError):
                volume.remove(force=True)
                done.append(f"removed volume {volume.name}{why(volume.attrs['Labels'])}")
    return done


def _gone(client: Any, container_id: str, not_found: type[Exception], wait_s: float = 15.0) -> bool:
    """Wait until a container someone else is removing is gone; False if it stays."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            client.containers.get(container_id)
        except not_found:
            return True
        time.sleep(0.2)
    return False


def remove_run(client: Any, run_id: str = RUN_ID) -> list[str]:
    """Remove every container, network and volume labelled with ``run_id`` exactly."""
    return _remove_all(client, lambda labels: labels.get(RUN) == run_id, lambda _labels: "")


def reap_dead(client: Any) -> list[str]:
    """Remove what runs whose owner process died left behind; one line per thing removed."""
    return _remove_all(
        client,
        lambda labels: not str(labels.get(RUN, "")).startswith(RUN_ID) and not owner_alive(labels),
        lambda labels: f" of dead run {labels.get(RUN)}",
    )


def leftovers(client: Any) -> list[str]:
    """Names of every labelled container, network and volume (all runs), for ``docker status``."""
    out = [f"container {c.name}" for c in client.containers.list(all=True, filters={"label": RUN})]
    out += [f"network {n.name}" for n in client.networks.list(filters={"label": RUN})]
    out += [f"volume {v.name}" for v in client.volumes.list(filters={"label": RUN})]
    return out
