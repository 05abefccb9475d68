"""Choose the stack by ``settings.target``: ``local`` (default), ``docker`` or ``external``.

    >>> with open_stack(settings) as endpoints:      # what the ``prodcheck_stack`` fixture does
    ...     run_checks(endpoints)

``local`` starts the embedded stack (:class:`~pytest_prodcheck.stack.local.LocalStack`),
``docker`` the same through testcontainers (imported only then), ``external`` starts nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.stack.endpoints import Endpoints

TARGETS = ("local", "docker", "external")


def local_options_from(settings: Any) -> Any:
    """:class:`LocalStackOptions` honouring the site names/paths and S3 bucket of ``settings``."""
    from pytest_prodcheck.stack.local import LocalStackOptions

    site = getattr(settings, "site", None)
    s3 = getattr(settings, "s3", None)
    kwargs: dict[str, Any] = {}
    for key in ("apex", "www", "api", "monitoring", "static_path", "api_path"):
        value = getattr(site, key, None)
        if value:
            kwargs[key] = value
    bucket = getattr(s3, "bucket", None)
    if bucket:
        kwargs["bucket"] = bucket
    for key, attr in (("s3_region", "region"), ("s3_prefix", "prefix")):
        value = getattr(s3, attr, None)
        if value:
            kwargs[key] = value
    return LocalStackOptions(**kwargs)


@contextlib.contextmanager
def open_stack(settings: Any) -> Iterator[Endpoints]:
    """Yield the :class:`Endpoints` of the selected target; stop whatever was started on exit."""
    target = getattr(settings, "target", "local") or "local"
    if getattr(settings, "url", None) and target == "local":
        target = "external"
    if target == "external":
        from pytest_prodcheck.stack.external import external_endpoints

        yield external_endpoints(settings)
    elif target == "local":
        from pytest_prodcheck.stack.local import LocalStack

        with LocalStack(local_options_from(settings)) as endpoints:
            yield endpoints
    elif target == "docker":
        from pytest_prodcheck.stack.containers import DockerStack

        with DockerStack(settings) as endpoints:
            yield endpoints
    else:
        raise ConfigError(f"target = {target!r}: use one of {', '.join(TARGETS)}")
