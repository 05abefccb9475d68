"""``[docker]`` settings: image names and where the private engine keeps its data.

    [docker]
    postgres_image = "postgres:15"      # used as is when present or pullable, else built locally
    app_image = "registry.example.com/shop:1.4"   # your own image instead of the built shop

An empty name means "build it" (from ``docker/<service>/`` on the base image). The defaults are
the well-known public images; when one can be neither found locally nor pulled, prodcheck builds
the equivalent from a Debian base (``base_image``, itself made with debootstrap when
``debian:bookworm-slim`` cannot be pulled). A name you set that cannot be found or pulled is an
error (exit 2), never silently replaced.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

#: The public image tried first for each service, and what is built when it cannot be had.
PUBLIC_IMAGES: dict[str, str] = {
    "base": "debian:bookworm-slim",
    "postgres": "postgres:15",
    "nginx": "nginx:1.25",
    "s3": "motoserver/moto:latest",
}


@dataclass(frozen=True)
class DockerSettings:
    """Image names (``""`` = build from ``docker/<service>``) and engine locations."""

    base_image: str = PUBLIC_IMAGES["base"]
    postgres_image: str = PUBLIC_IMAGES["postgres"]
    nginx_image: str = PUBLIC_IMAGES["nginx"]
    s3_image: str = PUBLIC_IMAGES["s3"]
    pgbouncer_image: str = ""
    app_image: str = ""
    pebble_image: str = ""
    data_root: str = field(  # the private engine's images (the cache)
        default_factory=lambda: os.environ.get(
            "PRODCHECK_DOCKER_DATA_ROOT", "/var/lib/prodcheck-docker"
        )
    )
    pull_timeout: float = 30.0  # seconds to try a pull before building instead

    def image(self, service: str) -> str:
        """The configured name for ``service`` (``"postgres"``, ``"app"``, …)."""
        return str(getattr(self, f"{service}_image"))

    def is_default(self, service: str) -> bool:
        """True when ``service``'s name is the default (so a fallback build is allowed)."""
        for f in fields(self):
            if f.name == f"{service}_image":
                return bool(getattr(self, f.name) == f.default)
        return False


def docker_settings(settings: object) -> DockerSettings:
    """``settings.docker`` when the run's settings have that section, else the defaults."""
    value = getattr(settings, "docker", None)
    return value if isinstance(value, DockerSettings) else DockerSettings()
