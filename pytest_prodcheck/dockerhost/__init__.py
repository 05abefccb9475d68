"""Docker for prodcheck: an engine (a user's, or a private ``dockerd`` we start and stop), images
built without a registry, labelled containers reaped by run, the guide's compose stack, stats.

    >>> with engine_session() as engine:            # DOCKER_HOST's engine, or a private one
    ...     images = ensure_images(engine.client(), DockerSettings(), progress=print)
    ...     images["postgres"]                      # 'prodcheck/postgres:3f2a…' (cached by inputs)

Modules: :mod:`.engine` (find/start/stop), :mod:`.images` (debootstrap base, builds, pulls),
:mod:`.labels` (run ids, reaping), :mod:`.cleanup` (remove a run on exit/SIGTERM),
:mod:`.runner` (start containers, wait, errors), :mod:`.stats` (CPU/memory sampling),
:mod:`.sdk` (the ``docker`` SDK, imported only when used). What runs on it lives in ``stack/``:
``containers`` (the docker target), ``compose`` (``docker/compose.yml``), ``pebble_container``.
"""

from __future__ import annotations

from pytest_prodcheck.dockerhost.errors import DockerUnavailable
from pytest_prodcheck.dockerhost.settings import DockerSettings

__all__ = ["DockerSettings", "DockerUnavailable"]
