"""Every TLS and HTTP check of one site, run concurrently (well under 2 s on loopback).

    >>> report = run_site_checks(SiteTarget.from_args("https://shop.test:8443", ...))
    >>> [(c.id, c.status) for c in report.checks][:2]
    [('tls.protocols', 'pass'), ('tls.ciphers', 'pass')]
    >>> report.exit_code                      # 0 all ok, 1 a check failed, 3 a check errored
    0

A TCP connect to the HTTPS port comes first, so an unreachable site raises
:class:`~pytest_prodcheck.core.errors.TargetUnreachable` at once; after that a check that cannot run is
recorded as ``error`` with its reason and never aborts the others (a crashing scanner included).
The rate-limit probe runs alongside the rest from its own loopback address, or last when the site
sees one address for everything (a remote site), and then waits until the buckets it filled have
drained (:mod:`pytest_prodcheck.probes.http.ratelimit`).

Which checks exist, what each shares and in which order they are reported is the table
:data:`~pytest_prodcheck.probes.site_checks.SITE_CHECKS`; this module only dispatches it.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pytest_prodcheck.core.errors import ProdcheckError, TargetUnreachable
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.http.ratelimit import fresh_sources
from pytest_prodcheck.probes.site_checks import INPUT_GROUPS, SITE_CHECKS, SiteCheck, SiteInputs
from pytest_prodcheck.probes.tls.handshake import open_tcp
from pytest_prodcheck.probes.tls.target import SiteTarget

SCHEMA_VERSION = 1
CHECK_IDS = SITE_CHECKS.ids()


@dataclass(frozen=True)
class SiteReport:
    target: str
    checks: tuple[CheckResult, ...]
    duration_s: float

    @property
    def exit_code(self) -> int:
        """0 nothing failed, 1 a check failed, 3 none failed but one could not run."""
        statuses = {c.status for c in self.checks}
        if "fail" in statuses:
            return 1
        if "error" in statuses:
            return 3
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "target": self.target,
            "checks": [c.to_dict() for c in self.checks],
        }


def run_site_checks(target: SiteTarget, *, only: set[str] | None = None) -> SiteReport:
    """Run the checks (all, or the ids in ``only``) against ``target``."""
    specs = SITE_CHECKS.select(only)  # ConfigError for an unknown id
    started = time.monotonic()
    open_tcp(target, target.apex, target.port).close()  # TargetUnreachable -> exit 3
    inputs = SiteInputs(target)
    # its own source address (random loopback or configured): it can run alongside the others
    own_source = bool(target.rate_limit_source) and not target.shared_client_address
    isolated = own_source or fresh_sources(target, 2) is not None
    groups = {s.group for s in specs}
    at_once = [s for s in specs if s.group == "site" or (s.group == "burst" and isolated)]
    last = [s for s in specs if s.group == "burst" and not isolated]
    results: dict[str, CheckResult] = {}

    with ThreadPoolExecutor(max_workers=8) as pool:
        fetched = {
            g: pool.submit(inputs.prepare, g) for g in INPUT_GROUPS if g in groups
        }  # one sslyze scan, one handshake per name, the pages: concurrently
        futures = {s.id: pool.submit(s.guarded, inputs) for s in at_once}
        for group, fut in fetched.items():
            failure = _failure(fut)  # TargetUnreachable: raised
            for spec in specs:
                if spec.group != group:
                    continue
                if failure is None:
                    results[spec.id] = spec.guarded(inputs)
                else:  # the shared input broke: its checks error, the others still run
                    results[spec.id] = CheckResult.errored(spec.id, INPUT_GROUPS[group] + failure)
        for cid, check in futures.items():
            results[cid] = check.result()

    for spec in last:  # last: it drains the shared bucket
        results[spec.id] = spec.guarded(inputs)
    ordered = tuple(results[s.id] for s in specs if s.id in results)
    return SiteReport(target.url, ordered, time.monotonic() - started)


def _failure(fut: Future[None]) -> str | None:
    """Why the future raised, in one line (None: it did not; TargetUnreachable: raised)."""
    try:
        fut.result()
    except TargetUnreachable:
        raise
    except ProdcheckError as exc:
        return str(exc)
    except Exception as exc:
        return f"{exc.__class__.__name__}: {exc}"
    return None


__all__ = [
    "CHECK_IDS",
    "SCHEMA_VERSION",
    "SiteCheck",
    "SiteReport",
    "TargetUnreachable",
    "run_site_checks",
]
