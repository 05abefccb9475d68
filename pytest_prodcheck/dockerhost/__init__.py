"""Docker for prodcheck: an engine (a user's, or a private ``dockerd`` we start and stop), images
built without a registry, labelled containers reaped by run, the guide's compose stack, stats.

    >>> with engine_session() as engine:            # DOCKER_HOST's engine, or a private one
    ...     images = ensure_images(engine.client(), DockerSettings(), progress=print)
    ...     images["postgres"]                      # 'prodcheck/postgres:3f2a…' (cached by inputs)

Modules: :mod:`.engine` (find/start/stop), :mod:`.images` (debootstrap base, builds, pulls),
:mod:`.labels` (run ids, reaping), :mod:`.runner` (start containers, wait, errors),
:mod:`.compose` (``docker/compose.yml`` through ``docker-compose``), :mod:`.stats` (CPU/memory
sampling). The ``docker`` SDK is imported only by the functions that need it.
"""

from __future__ import annotations

from pytest_prodcheck.dockerhost.errors import DockerUnavailable
from pytest_prodcheck.dockerhost.settings import DockerSettings

__all__ = ["DockerSettings", "DockerUnavailable"]
