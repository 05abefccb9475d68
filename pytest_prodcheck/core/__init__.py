"""The shared floor: what every area builds on, importing nothing above it.

    >>> from pytest_prodcheck.core import CheckResult, ConfigError, mask_dsn
    >>> CheckResult.judge("x.y", True, observed="1", expected="1").ok
    True

Modules: ``result`` (CheckResult), ``errors`` (the exception hierarchy and exit codes),
``secrets`` (masking), ``proc`` (supervised child processes and process groups, PDEATHSIG,
temp dirs, the run registry), ``ports`` (free_port, wait_port), ``files`` (atomic writes with a
mode, disk-full errors), ``cron`` (cron expressions: validation, longest gap between runs).
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
