"""Certificates over ACME: issued by the expected CA, far from expiry, renewable, renewal scheduled.

    pytest -m acme                         # all ACME checks
    pytest -m "smoke and acme"             # issuer + remaining lifetime

What is judged depends on the target:

- ``external`` / ``docker``: the certificate the site serves for each name (apex, www, api,
  monitoring), verified against ``ca_bundle`` (else the system store) and expected to be issued by
  ``[acme] expected_issuer`` (a regex on the issuer, default Let's Encrypt). Renewal is dry-run
  for the lineages under ``[acme] cert_dir`` (when this host manages them with prodcheck), and the
  schedule is read from the crontab of the user running pytest (or ``$PRODCHECK_CRONTAB_FILE``).
- ``local`` (the embedded stack): the suite does what the guide's ``make setup-ssl`` does —
  ``prodcheck ssl issue`` against the stack's Pebble (HTTP-01 validated through the stack's
  nginx), installed into the directory nginx serves its certificate from, nginx reloaded — and
  judges what nginx then serves for every name (chain verified against Pebble's root, issuer
  Pebble's intermediate). Afterwards the stack's test-CA certificate is put back and nginx
  reloaded again, because the TLS checks trust that CA (≈ 0.3 s in all). The renewal dry run
  uses that lineage; the schedule check reads a file crontab the suite fills with
  ``prodcheck cron install --job ssl-renew``'s job.

One test per row of :data:`~pytest_prodcheck.acme.check_table.ACME_CHECKS`
(``test_check[acme.issuer]`` …), with that row's markers and checklist items; the issuance flow
above is the ``prodcheck_acme`` fixture.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from pytest_prodcheck import acme
from pytest_prodcheck.acme import checks
from pytest_prodcheck.acme.check_table import ACME_CHECKS, AcmeCheck, AcmeSite
from pytest_prodcheck.backup.schedule import FileCrontab, backend_from, install_job
from pytest_prodcheck.config import Settings
from pytest_prodcheck.core.errors import ProdcheckError
from pytest_prodcheck.stack.endpoints import Endpoints, MissingEndpoint

if TYPE_CHECKING:
    from suites.conftest import Judge

pytestmark = [pytest.mark.acme]

RENEWAL_JOB = "ssl-renew"
LOCAL_EXPECTED_ISSUER = r"^CN=Pebble Intermediate CA"


CHECKS = ACME_CHECKS


def _pem_path(value: str, workdir: Path) -> str:
    """Endpoints may hold a PEM path or PEM text; return a path."""
    if value.lstrip().startswith("-----BEGIN"):
        path = workdir / "acme-roots.pem"
        path.write_text(value)
        return str(path)
    return value


def _served(
    stack: Endpoints, names: tuple[str, ...], trust: str | None
) -> tuple[checks.ServedCertificate, ...]:
    """What the site's HTTPS port hands out for each name (SNI), verified against ``trust``."""
    site_url = stack.require("site_url", key="url")
    parts = urlsplit(site_url)
    port = parts.port or 443
    resolve = stack.resolve_map()
    return tuple(
        checks.fetch_served((resolve.get((n, port), n), port), n, trust=trust) for n in names
    )


def _nginx_workers(pid: str | None) -> set[int]:
    """PIDs of the nginx master's children (empty when they cannot be seen)."""
    try:
        return {int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except (OSError, ValueError):
        return set()


def _wait_reloaded(pid: str | None, old: set[int], timeout: float = 10.0) -> None:
    """Until nginx's pre-reload workers (which may still hand out the old certificate) are gone.

    No new worker within 2 s means the reload command did not reload: what is served is judged.
    """
    started = time.monotonic()
    while old and time.monotonic() - started < timeout:
        current = _nginx_workers(pid)
        if current and not current & old:
            return
        if current <= old and time.monotonic() - started > 2.0:
            return
        time.sleep(0.005)


def _local_site(stack: Endpoints, settings: Settings) -> AcmeSite:
    """The guide's flow on the embedded stack, then judge what its nginx serves.

    ``prodcheck ssl issue`` against the stack's Pebble (HTTP-01 through the stack's nginx), with
    the lineage's live directory being the directory nginx serves its certificate from and the
    stack's reload command; the served certificate of every name is fetched over TLS once the
    old workers are gone. The stack's test-CA certificate is then put back and nginx reloaded
    again (the TLS checks trust that CA), whatever happened.
    """
    from pytest_prodcheck.acme.reload import run_reload
    from pytest_prodcheck.acme.store import Snapshot
    from pytest_prodcheck.commands.cron import JOBS, job_command
    from pytest_prodcheck.core.proc import make_tempdir

    directory = stack.require("acme_directory", key="the local stack's Pebble (pebble installed?)")
    roots = stack.require("acme_roots", key="the local stack's Pebble roots")
    webroot = stack.require("webroot", key="the local stack's nginx webroot")
    served_dir = Path(stack.require("cert_dir", key="the local stack's nginx certificate dir"))
    reload_command = stack.nginx_reload_command
    if not reload_command:
        raise MissingEndpoint("the local stack has no nginx reload command")
    names = stack.names
    if not names:
        raise MissingEndpoint("the local stack has no host names")
    work = make_tempdir("acme-suite-")
    trust = _pem_path(roots, work)
    store = acme.LineageStore(work / "ssl")
    request = acme.IssueRequest.build(
        names[0],
        f"admin@{names[0]}",
        directory=directory,
        webroot=webroot,
        extra_names=names[1:],
        default_subdomains=False,
        ca_bundle=stack.acme_ca_bundle,
        reload_command=reload_command,
    )
    domain = request.domain
    live = store.live_dir(domain)
    live.parent.mkdir(parents=True)
    live.symlink_to(served_dir.resolve(), target_is_directory=True)  # install = what nginx reads
    original = store.read(domain)
    if original is None:
        raise MissingEndpoint(
            f"the local stack's nginx serves no fullchain.pem/privkey.pem from {served_dir}"
        )
    pid = stack.extras.get("nginx_pid")
    source = f"served by {stack.site_url} after `prodcheck ssl issue` from the stack's Pebble"
    try:
        old = _nginx_workers(pid)
        try:
            acme.issue(request, store)
        except ProdcheckError as exc:
            samples = tuple(
                checks.ServedCertificate(n, None, False, f"issuance failed: {exc}") for n in names
            )
        else:
            _wait_reloaded(pid, old)
            samples = _served(stack, names, trust)
    finally:
        if store.read(domain) != original:
            old = _nginx_workers(pid)
            store.restore(domain, Snapshot(domain, original[0], original[1], ""))
            run_reload(reload_command)
            _wait_reloaded(pid, old)
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
    return AcmeSite(
        samples=samples,
        source=source,
        trust=trust,
        expected_issuer=settings.acme.expected_issuer or LOCAL_EXPECTED_ISSUER,
        store=store,
        crontab=crontab,
        min_lifetime_fraction=settings.tls.min_lifetime_fraction,
        min_days=settings.tls.min_days,
    )


def _remote_site(stack: Endpoints, settings: Settings) -> AcmeSite:
    site_url = stack.require("site_url", key="url")
    host = urlsplit(site_url).hostname
    names = stack.names or ((host,) if host else ())
    cert_dir = Path(settings.acme.cert_dir)
    store = acme.LineageStore(cert_dir)
    return AcmeSite(
        samples=_served(stack, names, stack.ca_bundle),
        source=f"served by {site_url}",
        trust=stack.ca_bundle,
        expected_issuer=settings.acme.expected_issuer or checks.DEFAULT_EXPECTED_ISSUER,
        store=store if store.domains() else None,
        crontab=backend_from(),
        min_lifetime_fraction=settings.tls.min_lifetime_fraction,
        min_days=settings.tls.min_days,
    )


@pytest.fixture(scope="session")
def prodcheck_acme(prodcheck_stack: Endpoints, prodcheck_settings: Settings) -> AcmeSite:
    if prodcheck_stack.target in ("local", "docker"):
        return _local_site(prodcheck_stack, prodcheck_settings)
    return _remote_site(prodcheck_stack, prodcheck_settings)


def test_check(check: AcmeCheck, prodcheck_acme: AcmeSite, judge: Judge) -> None:
    # a judgement of the served certificates says where they were fetched
    judge(check.run(prodcheck_acme), where=prodcheck_acme.source if check.group == "served" else "")
