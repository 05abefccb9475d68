"""The table of the ACME checks: id → callable → group → checklist items.

    >>> from pytest_prodcheck.acme.check_table import ACME_CHECKS, AcmeSite
    >>> ACME_CHECKS.ids()
    ('acme.issuer', 'acme.remaining-lifetime', 'acme.renewal', 'acme.renewal-scheduled')
    >>> ACME_CHECKS.get("acme.issuer").run(site).status      # site: an AcmeSite
    'pass'

``suites/test_acme.py`` is one test per row (``test_check[acme.issuer]`` …), with the row's
markers and checklist items; the checks themselves are :mod:`~pytest_prodcheck.acme.checks`.
Groups name what a check reads: ``served`` (the certificate the site serves for each name; a
failure says where it was fetched), ``lineages`` (renewal dry run of the lineages prodcheck
manages here), ``crontab`` (the renewal job).

The issuance itself — on the embedded stack ``prodcheck ssl issue`` from Pebble, installed where
nginx reads it, nginx reloaded, and the stack's certificate put back afterwards — is a bespoke
flow: the suite's ``prodcheck_acme`` fixture, which builds the :class:`AcmeSite` judged here.

Adding a check: write ``check_x`` in :mod:`~pytest_prodcheck.acme.checks`, add one row here, and a
test showing it fail on a target wrong in exactly that way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pytest_prodcheck.acme import checks
from pytest_prodcheck.acme.service import RenewOutcome, renew
from pytest_prodcheck.acme.store import LineageStore
from pytest_prodcheck.core.checks import CheckSpec, CheckTable
from pytest_prodcheck.core.errors import ProdcheckError
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.stack.endpoints import MissingEndpoint

__all__ = ["ACME_CHECKS", "AcmeCheck", "AcmeSite", "Crontab"]


class Crontab(Protocol):
    """Where the renewal job is looked for (a ``backup.schedule`` crontab backend)."""

    description: str

    def read(self) -> str: ...


@dataclass(frozen=True)
class AcmeSite:
    """What the ACME checks judge: the served certificates and where renewal is managed."""

    samples: tuple[checks.ServedCertificate, ...]  # one per host name
    source: str  # what was judged, for the evidence
    trust: str | None
    expected_issuer: str | None
    store: LineageStore | None  # lineages to dry-run renew (None: not managed here)
    crontab: Crontab
    min_lifetime_fraction: float = 1 / 3  # [tls] min_lifetime_fraction
    min_days: int = 14  # [tls] min_days


AcmeCheck = CheckSpec[AcmeSite]


def _issuer(site: AcmeSite) -> CheckResult:
    """Every name's certificate chains to the expected CA (Let's Encrypt / the stack's Pebble)."""
    return checks.check_issuer(site.samples, trust=site.trust, expected_issuer=site.expected_issuer)


def _lifetime(site: AcmeSite) -> CheckResult:
    """At least a third of the lifetime (and [tls] min_days) left on the worst name."""
    worst = min(
        (s for s in site.samples if s.info is not None),
        key=lambda s: s.info.not_after,  # type: ignore[union-attr]
        default=site.samples[0],
    )
    return checks.check_remaining_lifetime(
        worst, min_fraction=site.min_lifetime_fraction, min_days=site.min_days
    )


def _renewal(site: AcmeSite) -> CheckResult:
    """`prodcheck ssl renew --dry-run`: a certificate for every lineage, none installed."""
    if site.store is None:
        raise MissingEndpoint(
            "no certificate lineage managed by prodcheck here: set [acme] cert_dir to the "
            "directory `prodcheck ssl issue` wrote (its renewal/ holds the lineages)"
        )
    try:
        results = renew(site.store, dry_run=True)
    except ProdcheckError as exc:
        results = [RenewOutcome("?", "failed", None, str(exc), error=exc)]
    return checks.check_renewal(results)


def _scheduled(site: AcmeSite) -> CheckResult:
    """A crontab job runs the renewal at least daily (the guide: 0 3 * * *)."""
    try:
        text = site.crontab.read()
    except ProdcheckError as exc:
        return CheckResult.errored("acme.renewal-scheduled", str(exc))
    return checks.check_renewal_scheduled(text, source=site.crontab.description)


_SMOKE = ("acme", "smoke")
_CERTS = "predeploy.ssl-certificates"
_SSL = "testing.ssl-configuration"


def _rows() -> list[AcmeCheck]:
    return [
        CheckSpec("acme.issuer", _issuer, "served", (_CERTS, _SSL), _SMOKE,
                  "issued by the expected CA"),
        CheckSpec("acme.remaining-lifetime", _lifetime, "served", (_CERTS, _SSL), _SMOKE,
                  "enough of its lifetime left"),
        CheckSpec("acme.renewal", _renewal, "lineages", (_CERTS, _SSL), ("acme",),
                  "renewal works (dry run)"),
        CheckSpec("acme.renewal-scheduled", _scheduled, "crontab", (_CERTS,), ("acme",),
                  "renewal scheduled at least daily"),
    ]  # fmt: skip


ACME_CHECKS: CheckTable[AcmeSite] = CheckTable("acme", _rows())
