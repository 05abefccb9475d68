"""What can go wrong while obtaining or installing a certificate, and the exit code of each.

    AcmeError(ToolError)                   base of the CA-side failures              -> exit 3
    ├── DirectoryUnreachable(TargetUnreachable)  the ACME directory cannot be fetched -> exit 3
    ├── OrderRejected                       the CA refused the account or the order
    │   └── RateLimited                     ... because of a rate limit
    ├── ChallengeFailed                     the CA could not validate an HTTP-01 challenge
    └── ReloadFailed                        the reload command failed (previous cert restored)
    InvalidDomain(ConfigError)              a name that cannot be in a certificate   -> exit 2
    WebrootNotWritable(ConfigError)         challenge files cannot be written         -> exit 2

    >>> raise ChallengeFailed("HTTP-01 for api.shop.test failed: 404 ... check the webroot")

Every message is one line that names the cause and what to do; the live certificate is never
replaced when one of these is raised.
"""

from __future__ import annotations

from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable, ToolError


class AcmeError(ToolError):
    """The CA or the install step failed (CLI exit code 3)."""


class DirectoryUnreachable(TargetUnreachable):
    """The ACME directory URL could not be fetched (CLI exit code 3)."""


class OrderRejected(AcmeError):
    """The CA rejected the account registration, the order or its finalization."""


class RateLimited(OrderRejected):
    """The CA rejected the request because a rate limit was hit."""


class ChallengeFailed(AcmeError):
    """The CA could not validate a challenge (or offered none this client can answer)."""


class ReloadFailed(AcmeError):
    """The reload command failed; the previous certificate was put back."""


class InvalidDomain(ConfigError):
    """A name that cannot be put in a publicly trusted certificate (CLI exit code 2)."""


class WebrootNotWritable(ConfigError):
    """The webroot cannot hold challenge files (CLI exit code 2)."""


__all__ = [
    "AcmeError",
    "ChallengeFailed",
    "DirectoryUnreachable",
    "InvalidDomain",
    "OrderRejected",
    "RateLimited",
    "ReloadFailed",
    "WebrootNotWritable",
]
