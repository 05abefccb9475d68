"""Issue and renew certificates end to end: obtain, verify, install atomically, reload, roll back.

    >>> store = LineageStore("ssl")
    >>> request = IssueRequest.build("shop.example.com", "admin@shop.example.com",
    ...                              directory=LETSENCRYPT_STAGING, webroot="/var/www/certbot")
    >>> outcome = issue(request, store)       # live/shop.example.com/{fullchain,privkey}.pem
    >>> [r.action for r in renew(store)]              # ['not-due'] (renews below 1/3 of lifetime)
    >>> renew(store, dry_run=True)[0].action          # 'dry-run-ok': obtained, nothing installed

A certificate that fails in any way (CA error, key mismatch, missing names, reload failure)
never replaces the live one: on a reload failure the previous files are put back before the
error is raised. A dry run against Let's Encrypt production goes to its staging directory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from pytest_prodcheck.acme.certinfo import cert_info, key_matches
from pytest_prodcheck.acme.client import (
    KEY_TYPES,
    LETSENCRYPT_PRODUCTION,
    LETSENCRYPT_STAGING,
    AcmeClient,
    IssuedCertificate,
    check_directory_url,
)
from pytest_prodcheck.acme.errors import AcmeError, ReloadFailed
from pytest_prodcheck.acme.names import certificate_names
from pytest_prodcheck.acme.policy import RENEW_FRACTION, RenewalDecision, renewal_decision
from pytest_prodcheck.acme.reload import run_reload
from pytest_prodcheck.acme.store import LineageStore, RenewalConfig
from pytest_prodcheck.core.errors import ConfigError, ProdcheckError

ClientFactory = Callable[[RenewalConfig, LineageStore], AcmeClient]


@dataclass(frozen=True)
class IssueRequest:
    domain: str
    names: tuple[str, ...]
    directory: str
    webroot: Path
    email: str | None = None
    key_type: str = "ecdsa"
    ca_bundle: str | None = None
    reload_command: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        domain: str,
        email: str | None,
        *,
        directory: str = LETSENCRYPT_PRODUCTION,
        webroot: str | Path,
        extra_names: Sequence[str] = (),
        default_subdomains: bool = True,
        key_type: str = "ecdsa",
        ca_bundle: str | Path | None = None,
        reload_command: Sequence[str] = (),
    ) -> IssueRequest:
        """Validate everything that can be checked before talking to the CA."""
        names = certificate_names(domain, extra_names, defaults=default_subdomains)
        check_directory_url(directory)
        if key_type not in KEY_TYPES:
            raise ConfigError(f"--key-type {key_type!r}: use one of {', '.join(KEY_TYPES)}")
        if email is not None and (email.count("@") != 1 or " " in email or "." not in email):
            raise ConfigError(f"e-mail {email!r} is not an address (expected name@domain)")
        return cls(
            domain=names[0],
            names=names,
            directory=directory,
            webroot=Path(webroot),
            email=email,
            key_type=key_type,
            ca_bundle=str(ca_bundle) if ca_bundle else None,
            reload_command=tuple(reload_command),
        )

    def to_config(self) -> RenewalConfig:
        return RenewalConfig(
            domain=self.domain,
            names=self.names,
            directory=self.directory,
            webroot=str(self.webroot),
            email=self.email,
            key_type=self.key_type,
            ca_bundle=self.ca_bundle,
            reload_command=self.reload_command,
        )


@dataclass(frozen=True)
class IssueOutcome:
    domain: str
    names: tuple[str, ...]
    directory: str
    fullchain_path: Path | None  # None on a dry run
    privkey_path: Path | None
    version: str | None  # archive version installed
    issuer_cn: str
    not_after: dt.datetime
    elapsed_s: float  # ACME order → certificate
    reloaded: bool
    dry_run: bool


Action = Literal["renewed", "not-due", "dry-run-ok", "failed"]


@dataclass(frozen=True)
class RenewOutcome:
    domain: str
    action: Action
    decision: RenewalDecision | None  # None when the live certificate is missing or unreadable
    message: str
    outcome: IssueOutcome | None = None
    error: ProdcheckError | None = None

    @property
    def ok(self) -> bool:
        return self.action != "failed"


def default_client(config: RenewalConfig, store: LineageStore) -> AcmeClient:
    return AcmeClient(
        config.directory,
        email=config.email,
        ca_bundle=config.ca_bundle,
        account_path=store.account_path(config.directory),
    )


def dry_run_directory(directory: str) -> str:
    """Where a dry run goes: Let's Encrypt production → staging, anything else unchanged."""
    return LETSENCRYPT_STAGING if directory.rstrip("/") == LETSENCRYPT_PRODUCTION else directory


def _verify(cert: IssuedCertificate, names: tuple[str, ...]) -> None:
    info = cert_info(cert.fullchain_pem)
    if not key_matches(cert.fullchain_pem, cert.privkey_pem):
        raise AcmeError("the CA returned a certificate that does not match our key: not installed")
    if not info.covers(names):
        missing = ", ".join(sorted(set(names) - set(info.names)))
        raise AcmeError(f"the issued certificate lacks {missing}: not installed")


def obtain(
    config: RenewalConfig,
    store: LineageStore,
    *,
    dry_run: bool = False,
    reload: bool = True,
    client_factory: ClientFactory = default_client,
) -> IssueOutcome:
    """Obtain a certificate for ``config``; unless ``dry_run``, install it and reload."""
    if dry_run:
        config = replace(config, directory=dry_run_directory(config.directory))
    client = client_factory(config, store)
    cert = client.issue(config.names, Path(config.webroot), config.key_type)
    _verify(cert, config.names)
    info = cert_info(cert.fullchain_pem)
    if dry_run:
        return IssueOutcome(
            config.domain, config.names, config.directory, None, None, None,
            info.issuer_cn, info.not_after, cert.elapsed_s, False, True,
        )  # fmt: skip
    snapshot = store.install(config.domain, cert.fullchain_pem, cert.privkey_pem)
    reloaded = False
    if reload and config.reload_command:
        try:
            run_reload(config.reload_command)
            reloaded = True
        except ReloadFailed as exc:
            store.restore(config.domain, snapshot)
            kept = store.root / "archive" / config.domain / snapshot.version
            what = (
                "the previous certificate was restored"
                if snapshot.fullchain
                else "nothing installed"
            )
            raise ReloadFailed(f"{exc}; {what} (new certificate kept in {kept})") from None
    store.save_config(config)
    return IssueOutcome(
        domain=config.domain,
        names=config.names,
        directory=config.directory,
        fullchain_path=store.fullchain_path(config.domain),
        privkey_path=store.privkey_path(config.domain),
        version=snapshot.version,
        issuer_cn=info.issuer_cn,
        not_after=info.not_after,
        elapsed_s=cert.elapsed_s,
        reloaded=reloaded,
        dry_run=False,
    )


def issue(
    request: IssueRequest,
    store: LineageStore,
    *,
    dry_run: bool = False,
    client_factory: ClientFactory = default_client,
) -> IssueOutcome:
    """``prodcheck ssl issue``: obtain, install atomically, save the renewal config, reload."""
    return obtain(request.to_config(), store, dry_run=dry_run, client_factory=client_factory)


def renew(
    store: LineageStore,
    *,
    force: bool = False,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    fraction: float = RENEW_FRACTION,
    domains: Sequence[str] | None = None,
    reload_command: Sequence[str] | None = None,
    client_factory: ClientFactory = default_client,
) -> list[RenewOutcome]:
    """``prodcheck ssl renew``: renew each lineage under ``fraction`` of its lifetime left.

    One failing lineage does not stop the others; its live certificate stays as it was.
    ``reload_command`` replaces each lineage's saved one (and is saved on success).
    """
    results: list[RenewOutcome] = []
    for domain in domains if domains is not None else store.domains():
        decision: RenewalDecision | None = None
        try:
            config = store.load_config(domain)
            if reload_command is not None:
                config = replace(config, reload_command=tuple(reload_command))
            live = store.read(domain)
            if live is not None:
                info = cert_info(live[0])
                decision = renewal_decision(
                    info.not_before, info.not_after, now=now, fraction=fraction
                )
            if not (force or dry_run) and decision is not None and not decision.due:
                results.append(RenewOutcome(domain, "not-due", decision, decision.reason))
                continue
            outcome = obtain(config, store, dry_run=dry_run, client_factory=client_factory)
        except ProdcheckError as exc:
            results.append(RenewOutcome(domain, "failed", decision, str(exc), error=exc))
            continue
        action: Action = "dry-run-ok" if dry_run else "renewed"
        message = (
            f"obtained from {outcome.directory} in {outcome.elapsed_s:.2f} s, valid until "
            f"{outcome.not_after:%Y-%m-%d}"
            + ("" if dry_run else f", installed as {outcome.version}")
        )
        results.append(RenewOutcome(domain, action, decision, message, outcome))
    return results


__all__ = [
    "IssueOutcome",
    "IssueRequest",
    "RenewOutcome",
    "default_client",
    "dry_run_directory",
    "issue",
    "obtain",
    "renew",
]
