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

from pytest_prodcheck.config.schema import PUBLIC_IMAGES, DockerSettings

__all__ = ["PUBLIC_IMAGES", "DockerSettings", "docker_settings"]


def docker_settings(settings: object) -> DockerSettings:
    """``settings.docker`` when the run's settings have that section, else the defaults."""
    value = getattr(settings, "docker", None)
    return value if isinstance(value, DockerSettings) else DockerSettings()
