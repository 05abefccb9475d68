"""The Docker SDK (PyPI ``docker``), imported on first use.

    >>> errors().APIError, sdk().DockerClient

Through importlib: the repository's own ``docker/`` directory (Dockerfiles) would shadow the SDK
for mypy, and nothing imports the SDK until a docker feature is used.
"""

from __future__ import annotations

import importlib
from typing import Any


def sdk() -> Any:
    """The ``docker`` package."""
    return importlib.import_module("docker")


def errors() -> Any:
    """``docker.errors`` (APIError, NotFound, ImageNotFound, …)."""
    return importlib.import_module("docker.errors")
