"""The one error of the docker area: Docker cannot be used here as asked.

    >>> raise DockerUnavailable("no Docker engine answers at unix:///var/run/docker.sock: ...")

A :class:`~pytest_prodcheck.core.errors.ConfigError` (``prodcheck`` exits 2): no engine and none
can be started, a failed image build (naming the failing step), a port already taken, an image
that does not exist. The message is one line naming the problem and the fix. The docker target
raises it as :class:`~pytest_prodcheck.stack.containers.DockerTargetUnavailable`, also a
``MissingEndpoint``, so tests needing the stack skip with the message.
"""

from __future__ import annotations

from pytest_prodcheck.core.errors import ConfigError


class DockerUnavailable(ConfigError):
    """Docker cannot be used here as asked (exit 2)."""

    exit_code = 2
