"""``http.rate-limit``: a burst over the configured rate is refused (429/503), traffic under it is not.

    >>> check_rate_limit(target).observed
    'general /: 4 at 5 r/s → all passed; burst → 429 after 21 of 21 | API /api/products: … (from 127.181.194.157, …)'

Rate-limit buckets are per client address (nginx ``$binary_remote_addr``), so a probe that drains a
bucket would make every later request from that address fail. Two safeguards:

- **its own address**: on a loopback site each zone is probed from a fresh random ``127.x.y.z``
  (the whole 127/8 is local on Linux, no setup; two runs never share a bucket);
- **drain before returning**: from any other source (a remote site, where the prober has one
  address, or a fixed ``target.rate_limit_source``) the check waits, after its bursts, until the
  buckets it filled are empty again: at most ``(requests it got through) / rate`` seconds (~2 s
  with the guide's 10 r/s, burst 20), since nginx's excess grows by one per request let through
  and drains at the zone's rate. Whatever runs next from that address starts with a full bucket,
  whatever the test order. The site runner also probes the rate limit last on a remote site.

Per zone it first sends :data:`UNDER_REQUESTS` requests at half the configured rate (each must
pass), then a burst of up to ``10 × rate`` concurrent requests until one is refused.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.http.client import Session
from pytest_prodcheck.probes.tls.target import SiteTarget

CHECK_ID = "http.rate-limit"
LIMITED = (429, 503)
UNDER_REQUESTS = 4
BURST_FACTOR = 10
BURST_WORKERS = 16
MAX_DRAIN_S = 10.0  # never wait longer than this for a bucket to drain


def fresh_sources(target: SiteTarget, count: int) -> list[str] | None:
    """``count`` distinct random 127.x.y.z addresses when the site is on IPv4 loopback and no
    source is forced, else None (the probe then shares an address with other clients)."""
    if target.rate_limit_source or target.shared_client_address or not target.is_loopback:
        return None
    if ":" in target.address(target.apex, target.port):
        return None
    picked: set[str] = set()
    while len(picked) < count:
        picked.add(
            f"127.{random.randint(100, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
        )
    return list(picked)


@dataclass(frozen=True)
class ZoneResult:
    label: str
    rate: int
    under_statuses: tuple[int, ...]
    burst_sent: int
    first_limited_at: int | None  # index (1-based) of the first refused request, None if none
    limited_status: int | None
    error: str = ""
    passed: int = 0  # requests let through (under-rate + burst): what the bucket took in
    ended: float = 0.0  # time.monotonic() when the zone's last request was answered

    @property
    def under_ok(self) -> bool:
        return not any(s in LIMITED for s in self.under_statuses)

    def describe(self) -> str:
        if self.error:
            return f"{self.label}: {self.error}"
        under = (
            "all passed"
            if self.under_ok
            else f"{sum(s in LIMITED for s in self.under_statuses)} refused"
        )
        burst = (
            f"{self.limited_status} after {self.first_limited_at} of {self.burst_sent}"
            if self.first_limited_at
            else f"no 429/503 in {self.burst_sent}"
        )
        return (
            f"{self.label}: {len(self.under_statuses)} at {self.rate / 2:g} r/s → {under}; "
            f"burst → {burst}"
        )


def under_phase(target: SiteTarget, url: str, rate: int, source: str | None) -> list[int]:
    """:data:`UNDER_REQUESTS` requests at half ``rate``; their statuses."""
    interval = 2.0 / rate
    statuses: list[int] = []
    with Session(target, source_address=source) as session:
        for i in range(UNDER_REQUESTS):
            started = time.monotonic()
            statuses.append(session.request("GET", url).status)
            if i < UNDER_REQUESTS - 1:
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
    return statuses


def burst_phase(
    target: SiteTarget, url: str, rate: int, source: str | None
) -> tuple[int, int | None, int | None, int]:
    """Concurrent requests until one is refused (cap ``10 × rate``):
    (sent, first refused index, its status, how many got through)."""
    cap = max(BURST_FACTOR * rate, 50)
    lock = threading.Lock()
    state = {"sent": 0, "first": 0, "status": 0, "passed": 0}
    stop = threading.Event()
    errors: list[TargetUnreachable] = []

    def worker() -> None:
        with Session(target, source_address=source) as session:
            while not stop.is_set():
                with lock:
                    if state["sent"] >= cap:
                        return
                    state["sent"] += 1
                    index = state["sent"]
                try:
                    status = session.request("GET", url).status
                except TargetUnreachable as exc:
                    errors.append(exc)
                    stop.set()
                    return
                with lock:
                    if status not in LIMITED:
                        state["passed"] += 1
                    elif not state["first"] or index < state["first"]:
                        state["first"], state["status"] = index, status
                if status in LIMITED:
                    stop.set()

    with ThreadPoolExecutor(max_workers=BURST_WORKERS) as pool:
        for _ in range(BURST_WORKERS):
            pool.submit(worker)
    if errors and not state["first"]:
        raise errors[0]
    return state["sent"], state["first"] or None, state["status"] or None, state["passed"]


def _burst_result(
    target: SiteTarget, label: str, url: str, rate: int, source: str | None, under: list[int]
) -> ZoneResult:
    passed_under = sum(s not in LIMITED for s in under)
    try:
        sent, first, status, passed = burst_phase(target, url, rate, source)
    except TargetUnreachable as exc:
        return ZoneResult(label, rate, tuple(under), 0, None, None, str(exc), passed_under)
    return ZoneResult(
        label, rate, tuple(under), sent, first, status, "", passed_under + passed, time.monotonic()
    )


def probe_zone(
    target: SiteTarget, label: str, url: str, rate: int, source: str | None
) -> ZoneResult:
    """Under-rate traffic first, then the burst; one zone (URL), one source address."""
    try:
        under = under_phase(target, url, rate, source)
    except TargetUnreachable as exc:
        return ZoneResult(label, rate, (), 0, None, None, str(exc))
    return _burst_result(target, label, url, rate, source, under)


def _probe_sequentially(
    target: SiteTarget, zones: list[tuple[str, str, int]], source: str | None
) -> list[ZoneResult]:
    """Shared source: every under-rate phase first, then the bursts (which fill buckets)."""
    unders: list[list[int]] = []
    try:
        for _label, url, rate in zones:
            unders.append(under_phase(target, url, rate, source))
    except TargetUnreachable as exc:
        return [ZoneResult(z[0], z[2], (), 0, None, None, str(exc)) for z in zones]
    return [
        _burst_result(target, label, url, rate, source, under)
        for (label, url, rate), under in zip(zones, unders, strict=True)
    ]


def drain_wait(results: list[ZoneResult], *, now: float | None = None) -> float:
    """Seconds until every bucket these zones filled is empty again (capped at MAX_DRAIN_S):
    nginx's excess grows by one per request let through and drains at the zone's rate. A zone
    that refused nothing has room left (or no limit): no wait for it."""
    now = time.monotonic() if now is None else now
    full = [r for r in results if r.rate > 0 and (r.first_limited_at or not r.under_ok)]
    waits = [r.ended + r.passed / r.rate - now for r in full]
    return min(MAX_DRAIN_S, max([0.0, *waits]))


def check_rate_limit(target: SiteTarget, *, source_address: str | None = None) -> CheckResult:
    e = target.expect
    expected = (
        f"refusals (429/503) for bursts over {e.general_rate} r/s (general) and "
        f"{e.api_rate} r/s (API); none under those rates"
    )
    zones = [
        ("general /", target.url_for("/"), e.general_rate),
        (f"API {target.api_path}", target.api_url, e.api_rate),
    ]
    fresh = None if source_address else fresh_sources(target, len(zones))
    if fresh is not None:  # own random addresses: zones in parallel, nothing to clean up
        with ThreadPoolExecutor(max_workers=len(zones)) as pool:
            results = list(
                pool.map(lambda z, src: probe_zone(target, z[0], z[1], z[2], src), zones, fresh)
            )
        shown = sorted(fresh)
    else:  # a shared address: one zone after the other, then wait until the buckets are empty
        source = source_address or target.rate_limit_source
        results = _probe_sequentially(target, zones, source)
        shown = [source] if source else []
    observed = " | ".join(r.describe() for r in results)
    if shown:
        observed += f" (from {', '.join(shown)})"
    if fresh is None:
        waited = drain_wait(results)
        time.sleep(waited)
        observed += f"; waited {waited:.1f} s for the buckets to drain"
    failed = [r for r in results if r.error]
    if failed:
        return CheckResult.errored(CHECK_ID, "; ".join(r.describe() for r in failed), expected)
    problems: list[str] = []
    for r in results:
        if not r.under_ok:
            problems.append(
                f"{r.label}: traffic at {r.rate / 2:g} r/s was refused (limit too strict)"
            )
        if r.first_limited_at is None:
            problems.append(
                f"{r.label}: {r.burst_sent} requests at once, none refused (no limit_req)"
            )
    if problems:
        return CheckResult.failed(CHECK_ID, observed, expected, "; ".join(problems))
    return CheckResult.passed(CHECK_ID, observed, expected)
