"""The exception hierarchy, and the CLI exit code each maps to.

    ProdcheckError            base; ``exit_code`` 3, ``str()`` is one user-facing line
    ├── ConfigError           bad config file, option, env var, CLI argument      -> exit 2
    ├── TargetUnreachable     connection refused, DNS failure, timeout            -> exit 3
    └── ToolError             a service or subprocess the tool drives failed       -> exit 3

    >>> raise ConfigError("prodcheck.toml: [load] p95_ms = 'fast': expected a number")

Library code raises these with a message that names the problem and what to do next;
the CLI and the plugin print ``str(exc)`` as a single line, never a traceback.
"""

from __future__ import annotations


class ProdcheckError(Exception):
    """Base class: a user-facing, one-line error."""

    exit_code = 3


class ConfigError(ProdcheckError):
    """Invalid configuration, option or argument (CLI exit code 2)."""

    exit_code = 2


class TargetUnreachable(ProdcheckError):
    """The target (host, port, DSN, bucket) could not be reached (CLI exit code 3)."""

    exit_code = 3


class ToolError(ProdcheckError):
    """A service or subprocess driven by the tool failed (CLI exit code 3)."""

    exit_code = 3
