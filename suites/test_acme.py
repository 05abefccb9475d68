"""Certificates over ACME: issued by the expected CA, far from expiry, renewable, renewal scheduled.

    pytest -m acme                         # all ACME checks
    pytest -m "smoke and acme"             # issuer + remaining lifetime

What is judged depends on the target:

- ``external`` / ``docker``: the certificate the site serves for each name (apex, www, api,
  monitoring), verified against ``ca_bundle`` (else the system store) and expected to be issued by
  ``[acme] expected_issuer`` (a regex on the issuer, default Let's Encrypt). Renewal is dry-run
  for the lineages under ``[acme] cert_dir`` (when this host manages them with prodcheck), and the
  schedule is read from the crontab of the user running pytest (or ``$PRODCHECK_CRONTAB_FILE``).
- ``local`` (the embedded stack, whose nginx serves a throwaway test-CA certificate that the TLS
  checks rely on): the suite does what an operator does — ``prodcheck ssl issue`` against the
  stack's Pebble, validated over HTTP-01 through the stack's nginx, into a temp lineage store,
  and ``prodcheck cron install --job ssl-renew`` into a file-backed crontab — then judges that
  lineage (chain verified against Pebble's root) with the same checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pytest_prodcheck import acme
from pytest_prodcheck.acme import checks
from pytest_prodcheck.backup.schedule import CrontabBackend, FileCrontab, backend_from, install_job
from pytest_prodcheck.errors import ProdcheckError
from pytest_prodcheck.probes._result import CheckResult
from pytest_prodcheck.stack.endpoints import Endpoints, MissingEndpoint

pytestmark = [pytest.mark.acme]

RENEWAL_JOB = "ssl-renew"


@dataclass(frozen=True)
class AcmeSite:
    samples: tuple[checks.ServedCertificate, ...]  # one per host name
    source: str  # what was judged, for the evidence
    trust: str | None
    expected_issuer: str | None
    store: acme.LineageStore | None  # lineages to dry-run renew (None: not managed here)
    crontab: CrontabBackend


def _pem_path(value: str, workdir: Path) -> str:
    """Endpoints may hold a PEM path or PEM text; return a path."""
    if value.lstrip().startswith("-----BEGIN"):
        path = workdir / "acme-roots.pem"
        path.write_text(value)
        return str(path)
    return value


def _local_site(stack: Endpoints, settings: Any) -> AcmeSite:
    from pytest_prodcheck.commands.cron import JOBS, job_command
    from pytest_prodcheck.stack._proc import make_tempdir

    directory = stack.require("acme_directory", key="the local stack's Pebble (pebble installed?)")
    roots = stack.require("acme_roots", key="the local stack's Pebble roots")
    webroot = stack.require("webroot", key="the local stack's nginx webroot")
    names = stack.names
    if not names:
        raise MissingEndpoint("the local stack has no host names")
    work = make_tempdir("acme-suite-")
    store = acme.LineageStore(work / "ssl")
    request = acme.IssueRequest.build(
        names[0],
        f"admin@{names[0]}",
        directory=directory,
        webroot=webroot,
        extra_names=names[1:],
        default_subdomains=False,
        ca_bundle=stack.acme_ca_bundle,
        reload_command=(),  # the stack's nginx keeps serving its test-CA certificate
    )
    acme.issue(request, store)
    crontab = FileCrontab(work / "crontab")
    command = job_command(
        JOBS[RENEWAL_JOB], ["--cert-dir", str(store.root)], work, settings.config_path
    )
    install_job(
        RENEWAL_JOB,
        settings.acme.renew_schedule,
        command,
        log=str(work / Path(settings.acme.renew_log).name),
        backend=crontab,
    )
    trust = _pem_path(roots, work)
    fullchain = store.fullchain_path(request.domain).read_bytes()
    return AcmeSite(
        samples=tuple(checks.lineage_samples(fullchain, names, trust=trust)),
        source=f"lineage {store.fullchain_path(request.domain)} issued by the stack's Pebble",
        trust=trust,
        expected_issuer=settings.acme.expected_issuer,
        store=store,
        crontab=crontab,
    )


def _remote_site(stack: Endpoints, settings: Any) -> AcmeSite:
    site_url = stack.require("site_url", key="url")
    parts = urlsplit(site_url)
    port = parts.port or 443
    names = stack.names or ((parts.hostname,) if parts.hostname else ())
    resolve = stack.resolve_map()
    samples = tuple(
        checks.fetch_served((resolve.get((n, port), n), port), n, trust=stack.ca_bundle)
        for n in names
    )
    cert_dir = Path(settings.acme.cert_dir)
    store = acme.LineageStore(cert_dir)
    return AcmeSite(
        samples=samples,
        source=f"served by {site_url}",
        trust=stack.ca_bundle,
        expected_issuer=settings.acme.expected_issuer or checks.DEFAULT_EXPECTED_ISSUER,
        store=store if store.domains() else None,
        crontab=backend_from(),
    )


@pytest.fixture(scope="session")
def prodcheck_acme(prodcheck_stack: Endpoints, prodcheck_settings: Any) -> AcmeSite:
    if prodcheck_stack.target == "local":
        return _local_site(prodcheck_stack, prodcheck_settings)
    return _remote_site(prodcheck_stack, prodcheck_settings)


@pytest.mark.smoke
@pytest.mark.checklist("predeploy.ssl-certificates", "testing.ssl-configuration")
def test_certificate_issued_by_expected_ca(prodcheck_acme: AcmeSite, prodcheck_evidence: Any):
    """Every name's certificate chains to the expected CA (Let's Encrypt / the stack's Pebble)."""
    result = prodcheck_evidence.check(
        checks.check_issuer(
            prodcheck_acme.samples,
            trust=prodcheck_acme.trust,
            expected_issuer=prodcheck_acme.expected_issuer,
        )
    )
    assert result.ok, f"{result.message} ({prodcheck_acme.source})"


@pytest.mark.smoke
@pytest.mark.checklist("predeploy.ssl-certificates", "testing.ssl-configuration")
def test_certificate_remaining_lifetime(
    prodcheck_acme: AcmeSite, prodcheck_settings: Any, prodcheck_evidence: Any
):
    """At least a third of the lifetime (and [tls] min_days) left: renewal has not stalled."""
    tls = prodcheck_settings.tls
    worst = min(
        (s for s in prodcheck_acme.samples if s.info is not None),
        key=lambda s: s.info.not_after,  # type: ignore[union-attr]
        default=prodcheck_acme.samples[0],
    )
    result = prodcheck_evidence.check(
        checks.check_remaining_lifetime(
            worst, min_fraction=tls.min_lifetime_fraction, min_days=tls.min_days
        )
    )
    assert result.ok, f"{result.message} ({prodcheck_acme.source})"


@pytest.mark.checklist("predeploy.ssl-certificates", "testing.ssl-configuration")
def test_renewal_works_dry_run(prodcheck_acme: AcmeSite, prodcheck_evidence: Any):
    """`prodcheck ssl renew --dry-run`: a certificate is obtained for every lineage, none installed."""
    store = prodcheck_acme.store
    if store is None:
        raise MissingEndpoint(
            "no certificate lineage managed by prodcheck here: set [acme] cert_dir to the "
            "directory `prodcheck ssl issue` wrote (its renewal/ holds the lineages)"
        )
    try:
        results = acme.renew(store, dry_run=True)
    except ProdcheckError as exc:
        results = [acme.RenewOutcome("?", "failed", None, str(exc), error=exc)]
    result = prodcheck_evidence.check(checks.check_renewal(results))
    assert result.ok, result.message


@pytest.mark.checklist("predeploy.ssl-certificates")
def test_renewal_scheduled(prodcheck_acme: AcmeSite, prodcheck_evidence: Any):
    """A crontab job runs the renewal at least daily (the guide: 0 3 * * *)."""
    crontab = prodcheck_acme.crontab
    try:
        text = crontab.read()
    except ProdcheckError as exc:
        result = prodcheck_evidence.check(CheckResult.errored("acme.renewal-scheduled", str(exc)))
    else:
        result = prodcheck_evidence.check(
            checks.check_renewal_scheduled(text, source=crontab.description)
        )
    assert result.ok, result.message
