"""Shared helpers of the docker tests (not a fixture module; each test module has its fixtures).

    >>> with docker_engine_or_skip() as engine:     # the session's engine (private if need be)
    ...     client = engine.client()

On this kind of machine (root, ``docker.io`` installed by scripts/bootstrap) and in CI the docker
tests never skip: an engine that cannot be had there is a failure. Elsewhere (a laptop without
Docker) they skip with the reason. Every docker test module is marked ``xdist_group("docker")``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_prodcheck.dockerhost.engine import Engine, engine_session
from pytest_prodcheck.dockerhost.errors import DockerUnavailable
from pytest_prodcheck.dockerhost.labels import RUN


def docker_expected() -> bool:
    """True where the docker tests must run: CI, or root with dockerd installed."""
    return bool(os.environ.get("CI")) or (os.geteuid() == 0 and shutil.which("dockerd") is not None)


@contextlib.contextmanager
def docker_engine_or_skip() -> Iterator[Engine]:
    try:
        cm = engine_session(progress=print)
        engine = cm.__enter__()
    except DockerUnavailable as exc:
        if docker_expected():
            pytest.fail(f"the docker tests must run here: {exc}", pytrace=False)
        pytest.skip(str(exc))
    try:
        yield engine
    finally:
        cm.__exit__(None, None, None)


def labelled(client: Any, run_id: str) -> list[str]:
    """Every container, network and volume labelled with ``run_id``."""
    sel = {"label": f"{RUN}={run_id}"}
    out = [f"container {c.name}" for c in client.containers.list(all=True, filters=sel)]
    out += [f"network {n.name}" for n in client.networks.list(filters=sel)]
    out += [f"volume {v.name}" for v in client.volumes.list(filters=sel)]
    return out
