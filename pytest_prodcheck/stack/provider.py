"""Choose the stack by ``settings.target``: ``local`` (default), ``docker`` or ``external``.

    >>> with open_stack(settings) as endpoints:      # what the ``prodcheck_stack`` fixture does
    ...     run_checks(endpoints)

A site URL in the settings already made the target ``external`` (``Settings`` applies that rule).
``local`` starts the embedded stack (:class:`~pytest_prodcheck.stack.local.LocalStack`),
``docker`` the same as containers (Docker SDK, imported only then), ``external`` starts nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.stack.endpoints import Endpoints

if TYPE_CHECKING:
    from pytest_prodcheck.config import Settings

TARGETS = ("local", "docker", "external")


@contextlib.contextmanager
def open_stack(settings: Settings) -> Iterator[Endpoints]:
    """Yield the :class:`Endpoints` of ``settings.target``; stop whatever was started on exit."""
    target = settings.target
    if target == "external":
        from pytest_prodcheck.stack.external import external_endpoints

        yield external_endpoints(settings)
    elif target == "local":
        from pytest_prodcheck.stack.local import LocalStack, LocalStackOptions

        with LocalStack(LocalStackOptions.from_settings(settings)) as endpoints:
            yield endpoints
    elif target == "docker":
        from pytest_prodcheck.stack.containers import DockerStack

        with DockerStack(settings) as endpoints:
            yield endpoints
    else:
        raise ConfigError(f"target = {target!r}: use one of {', '.join(TARGETS)}")
