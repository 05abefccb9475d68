"""The one error of the docker area: the docker target cannot be set up here.

    >>> raise DockerUnavailable("no Docker engine answers at unix:///var/run/docker.sock: ...")

A :class:`~pytest_prodcheck.stack.endpoints.MissingEndpoint` (tests needing the stack skip with its
message) and a :class:`~pytest_prodcheck.core.errors.ConfigError` (``prodcheck`` exits 2): no
engine and none can be started, a failed image build (naming the failing step), a port already
taken, an image that does not exist. The message is one line naming the problem and the fix.
"""

from __future__ import annotations

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.stack.endpoints import MissingEndpoint


class DockerUnavailable(MissingEndpoint, ConfigError):
    """The docker target cannot run here (exit 2; the suite skips with this reason)."""

    exit_code = 2
