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
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pytest_prodcheck.core.errors import ConfigError, ProdcheckError, TargetUnreachable
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.http import (
    check_body_limit,
    check_csp,
    check_gzip,
    check_hsts,
    check_https_redirect,
    check_keepalive,
    check_rate_limit,
    check_server_banner,
    check_static_cache,
    check_www_redirect,
    check_x_content_type_options,
    check_x_frame_options,
    fetch_pages,
)
from pytest_prodcheck.probes.http.pages import PageSet
from pytest_prodcheck.probes.http.ratelimit import fresh_sources
from pytest_prodcheck.probes.tls.alpn import check_alpn
from pytest_prodcheck.probes.tls.chain import check_chain
from pytest_prodcheck.probes.tls.ciphers import check_ciphers
from pytest_prodcheck.probes.tls.expiry import check_expiry
from pytest_prodcheck.probes.tls.handshake import open_tcp
from pytest_prodcheck.probes.tls.hostname import check_hostname, handshakes
from pytest_prodcheck.probes.tls.keys import check_key
from pytest_prodcheck.probes.tls.mozilla import check_cert_profile, check_groups
from pytest_prodcheck.probes.tls.ocsp import check_ocsp
from pytest_prodcheck.probes.tls.protocols import check_protocols
from pytest_prodcheck.probes.tls.scan import TlsScan, scan_tls
from pytest_prodcheck.probes.tls.target import SiteTarget

SCHEMA_VERSION = 1
CHECK_IDS = (
    "tls.protocols",
    "tls.ciphers",
    "tls.cert.chain",
    "tls.cert.hostname",
    "tls.cert.expiry",
    "tls.cert.key",
    "tls.cert.profile",
    "tls.groups",
    "tls.ocsp-stapling",
    "tls.alpn-h2",
    "http.https-redirect",
    "http.www-redirect",
    "headers.hsts",
    "headers.x-frame-options",
    "headers.x-content-type-options",
    "headers.csp",
    "http.gzip",
    "http.static-cache",
    "http.keepalive",
    "http.rate-limit",
    "http.body-limit",
    "http.server-banner",
)


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


def _guard(check_id: str, fn: Callable[[], CheckResult]) -> CheckResult:
    """Run one check; anything it raises becomes an ``error`` result with a one-line reason."""
    try:
        return fn()
    except ProdcheckError as exc:
        return CheckResult.errored(check_id, str(exc))
    except Exception as exc:  # a bug or an unexpected server answer must not sink the run
        return CheckResult.errored(check_id, f"{exc.__class__.__name__}: {exc}")


_SCAN_CHECKS = frozenset(
    {
        "tls.protocols",
        "tls.ciphers",
        "tls.cert.chain",
        "tls.cert.expiry",
        "tls.cert.key",
        "tls.cert.profile",
        "tls.groups",
        "tls.ocsp-stapling",
    }
)
_HANDSHAKE_CHECKS = frozenset({"tls.cert.hostname", "tls.alpn-h2"})
_PAGE_CHECKS = frozenset(
    {
        "headers.hsts",
        "headers.x-frame-options",
        "headers.x-content-type-options",
        "headers.csp",
        "http.gzip",
        "http.server-banner",
    }
)


def run_site_checks(target: SiteTarget, *, only: set[str] | None = None) -> SiteReport:
    """Run the checks (all, or the ids in ``only``) against ``target``."""
    wanted = set(CHECK_IDS) if only is None else set(only)
    unknown = wanted - set(CHECK_IDS)
    if unknown:
        raise ConfigError(f"unknown check id(s): {', '.join(sorted(unknown))}")
    started = time.monotonic()
    open_tcp(target, target.apex, target.port).close()  # TargetUnreachable -> exit 3
    e = target.expect
    results: dict[str, CheckResult] = {}
    # its own source address (random loopback or configured): it can run alongside the others
    own_source = bool(target.rate_limit_source) and not target.shared_client_address
    isolated = own_source or fresh_sources(target, 2) is not None
    independent: dict[str, Callable[[], CheckResult]] = {
        "http.https-redirect": lambda: check_https_redirect(target),
        "http.www-redirect": lambda: check_www_redirect(target),
        "http.keepalive": lambda: check_keepalive(target),
        "http.body-limit": lambda: check_body_limit(target),
        "http.static-cache": lambda: check_static_cache(target),
    }
    if isolated:
        independent["http.rate-limit"] = lambda: check_rate_limit(target)

    with ThreadPoolExecutor(max_workers=8) as pool:
        scan_f = pool.submit(scan_tls, target) if wanted & _SCAN_CHECKS else None
        shakes_f = pool.submit(handshakes, target) if wanted & _HANDSHAKE_CHECKS else None
        pages_f = pool.submit(fetch_pages, target) if wanted & _PAGE_CHECKS else None
        futures = {
            cid: pool.submit(_guard, cid, fn) for cid, fn in independent.items() if cid in wanted
        }

        if scan_f is not None:
            scan: TlsScan | CheckResult = _guard_value(scan_f)  # TargetUnreachable: raised
            if isinstance(scan, CheckResult):  # the scanner itself broke: the checks error
                for cid in _SCAN_CHECKS:
                    results[cid] = CheckResult.errored(cid, f"TLS scan failed: {scan.message}")
            else:
                scan_checks: dict[str, Callable[[TlsScan], CheckResult]] = {
                    "tls.protocols": lambda s: check_protocols(s, e),
                    "tls.ciphers": lambda s: check_ciphers(s, e),
                    "tls.cert.chain": lambda s: check_chain(s, target),
                    "tls.cert.expiry": lambda s: check_expiry(s, e),
                    "tls.cert.key": check_key,
                    "tls.cert.profile": lambda s: check_cert_profile(s, e),
                    "tls.groups": lambda s: check_groups(s, e),
                    "tls.ocsp-stapling": check_ocsp,
                }
                for cid, sfn in scan_checks.items():
                    results[cid] = _guard(cid, lambda sfn=sfn, scan=scan: sfn(scan))  # type: ignore[misc]

        if shakes_f is not None:
            shakes = _guard_value(shakes_f)
            if isinstance(shakes, CheckResult):
                for cid in _HANDSHAKE_CHECKS:
                    results[cid] = CheckResult.errored(cid, shakes.message)
            else:
                apex = next((h for h in shakes if h.name == target.apex), None)
                results["tls.cert.hostname"] = _guard(
                    "tls.cert.hostname", lambda: check_hostname(target, shakes)
                )
                results["tls.alpn-h2"] = _guard("tls.alpn-h2", lambda: check_alpn(target, apex))

        if pages_f is not None:
            pages = _guard_value(pages_f)
            page_checks: dict[str, Callable[[PageSet], CheckResult]] = {
                "headers.hsts": lambda p: check_hsts(p, e),
                "headers.x-frame-options": check_x_frame_options,
                "headers.x-content-type-options": check_x_content_type_options,
                "headers.csp": check_csp,
                "http.gzip": check_gzip,
                "http.server-banner": check_server_banner,
            }
            for cid, pfn in page_checks.items():
                if isinstance(pages, CheckResult):
                    results[cid] = CheckResult.errored(cid, pages.message)
                else:
                    results[cid] = _guard(cid, lambda pfn=pfn, pages=pages: pfn(pages))  # type: ignore[misc]

        for cid, fut in futures.items():
            results[cid] = fut.result()

    if "http.rate-limit" in wanted and not isolated:  # last: it drains the shared bucket
        results["http.rate-limit"] = _guard("http.rate-limit", lambda: check_rate_limit(target))
    ordered = tuple(results[cid] for cid in CHECK_IDS if cid in wanted and cid in results)
    return SiteReport(target.url, ordered, time.monotonic() - started)


def _guard_value(fut: Future[Any]) -> Any:
    """The future's value, or an ``error`` result for what it raised (TargetUnreachable: raised)."""
    try:
        return fut.result()
    except TargetUnreachable:
        raise
    except ProdcheckError as exc:
        return CheckResult.errored("", str(exc))
    except Exception as exc:
        return CheckResult.errored("", f"{exc.__class__.__name__}: {exc}")


__all__ = ["CHECK_IDS", "SCHEMA_VERSION", "SiteReport", "TargetUnreachable", "run_site_checks"]
