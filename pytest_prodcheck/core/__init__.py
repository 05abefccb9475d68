"""The shared floor: what every area builds on, importing nothing above it.

    >>> from pytest_prodcheck.core import CheckResult, ConfigError, mask_dsn
    >>> CheckResult.judge("x.y", True, observed="1", expected="1").ok
    True

Modules: ``result`` (CheckResult), ``errors`` (the exception hierarchy and exit codes),
``secrets`` (masking), ``proc`` (supervised child processes, temp dirs, the run registry),
``files`` (atomic writes, disk-full errors).
"""

from __future__ import annotations

from pytest_prodcheck.core.errors import ConfigError, ProdcheckError, TargetUnreachable, ToolError
from pytest_prodcheck.core.result import CheckResult, Status
from pytest_prodcheck.core.secrets import mask_dsn, mask_text

__all__ = [
    "CheckResult",
    "ConfigError",
    "ProdcheckError",
    "Status",
    "TargetUnreachable",
    "ToolError",
    "mask_dsn",
    "mask_text",
]
