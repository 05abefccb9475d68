"""Certificates over ACME: issue, install atomically, renew below 1/3 of lifetime, reload.

    >>> from pytest_prodcheck import acme
    >>> store = acme.LineageStore("ssl")
    >>> req = acme.IssueRequest.build("shop.example.com", "admin@shop.example.com",
    ...                               directory=acme.LETSENCRYPT_STAGING,
    ...                               webroot="/var/www/certbot",
    ...                               reload_command=("nginx", "-s", "reload"))
    >>> acme.issue(req, store).fullchain_path
    PosixPath('ssl/live/shop.example.com/fullchain.pem')
    >>> [r.action for r in acme.renew(store)]
    ['not-due']

Library code: no pytest, no printing. Errors are the one-line classes of
:mod:`pytest_prodcheck.acme.errors`.
"""

from pytest_prodcheck.acme.certinfo import CertInfo, cert_info, key_matches
from pytest_prodcheck.acme.client import (
    KEY_TYPES,
    LETSENCRYPT_PRODUCTION,
    LETSENCRYPT_STAGING,
    AcmeClient,
    IssuedCertificate,
)
from pytest_prodcheck.acme.errors import (
    AcmeError,
    ChallengeFailed,
    DirectoryUnreachable,
    InvalidDomain,
    OrderRejected,
    RateLimited,
    ReloadFailed,
    WebrootNotWritable,
)
from pytest_prodcheck.acme.names import DEFAULT_SUBDOMAINS, certificate_names, validate_domain
from pytest_prodcheck.acme.policy import RENEW_FRACTION, RenewalDecision, renewal_decision
from pytest_prodcheck.acme.reload import DEFAULT_RELOAD_COMMAND, parse_command, run_reload
from pytest_prodcheck.acme.service import (
    IssueOutcome,
    IssueRequest,
    RenewOutcome,
    issue,
    obtain,
    renew,
)
from pytest_prodcheck.acme.store import LineageStore, RenewalConfig

__all__ = [
    "DEFAULT_RELOAD_COMMAND",
    "DEFAULT_SUBDOMAINS",
    "KEY_TYPES",
    "LETSENCRYPT_PRODUCTION",
    "LETSENCRYPT_STAGING",
    "RENEW_FRACTION",
    "AcmeClient",
    "AcmeError",
    "CertInfo",
    "ChallengeFailed",
    "DirectoryUnreachable",
    "InvalidDomain",
    "IssueOutcome",
    "IssueRequest",
    "IssuedCertificate",
    "LineageStore",
    "OrderRejected",
    "RateLimited",
    "ReloadFailed",
    "RenewOutcome",
    "RenewalConfig",
    "RenewalDecision",
    "WebrootNotWritable",
    "cert_info",
    "certificate_names",
    "issue",
    "key_matches",
    "obtain",
    "parse_command",
    "renew",
    "renewal_decision",
    "run_reload",
    "validate_domain",
]
