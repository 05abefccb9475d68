"""``http.rate-limit``: a burst over the configured rate is refused (429/503), traffic under it is not.

    >>> check_rate_limit(target).observed
    'general /: 4 at 5 r/s → all passed; burst → 429 after 21 of 21 | API /api/products: … (from 127.181.194.157, …)'

Rate-limit buckets are per client address (nginx ``$binary_remote_addr``), so a probe that drains a
bucket would make every later request from that address fail. The probe therefore uses its own
source address: ``target.rate_limit_source`` when set, else — when the site is on loopback — a
fresh random ``127.x.y.z`` per run (the whole 127/8 is local on Linux, so no setup is needed and
two runs never share a bucket). For a remote site no other source exists: the site runner then
probes the rate limit *last*, after every other check is done.

Per zone it first sends :data:`UNDER_REQUESTS` requests at half the configured rate (each must
pass), then a burst of up to ``10 × rate`` concurrent requests until one is refused.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pytest_prodcheck.errors import TargetUnreachable
from pytest_prodcheck.probes._result import CheckResult
from pytest_prodcheck.probes.http.client import Session
from pytest_prodcheck.probes.tls.target import SiteTarget

CHECK_ID = "http.rate-limit"
LIMITED = (429, 503)
UNDER_REQUESTS = 4
BURST_FACTOR = 10
BURST_WORKERS = 16


def probe_sources(target: SiteTarget, count: int) -> list[str | None]:
    """One source address per zone: fresh random 127.x.y.z on loopback, else the configured one
    (or None, the system default) repeated, in which case zones must be probed one after another.
    """
    if target.rate_limit_source:
        return [target.rate_limit_source] * count
    if target.is_loopback and ":" not in target.address(target.apex, target.port):
        picked: set[str] = set()
        while len(picked) < count:
            picked.add(
                f"127.{random.randint(100, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
            )
        return list(picked)
    return [None] * count


@dataclass(frozen=True)
class ZoneResult:
    label: str
    rate: int
    under_statuses: tuple[int, ...]
    burst_sent: int
    first_limited_at: int | None  # index (1-based) of the first refused request, None if none
    limited_status: int | None
    error: str = ""

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
) -> tuple[int, int | None, int | None]:
    """Concurrent requests until one is refused (cap ``10 × rate``): (sent, first index, status)."""
    cap = max(BURST_FACTOR * rate, 50)
    lock = threading.Lock()
    state = {"sent": 0, "first": 0, "status": 0}
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
                if status in LIMITED:
                    with lock:
                        if not state["first"] or index < state["first"]:
                            state["first"], state["status"] = index, status
                    stop.set()

    with ThreadPoolExecutor(max_workers=BURST_WORKERS) as pool:
        for _ in range(BURST_WORKERS):
            pool.submit(worker)
    if errors and not state["first"]:
        raise errors[0]
    return state["sent"], state["first"] or None, state["status"] or None


def probe_zone(
    target: SiteTarget, label: str, url: str, rate: int, source: str | None
) -> ZoneResult:
    """Under-rate traffic first, then the burst; one zone (URL), one source address."""
    under: list[int] = []
    try:
        under = under_phase(target, url, rate, source)
        sent, first, status = burst_phase(target, url, rate, source)
    except TargetUnreachable as exc:
        return ZoneResult(label, rate, tuple(under), 0, None, None, error=str(exc))
    return ZoneResult(label, rate, tuple(under), sent, first, status)


def _probe_sequentially(
    target: SiteTarget, zones: list[tuple[str, str, int]], source: str | None
) -> list[ZoneResult]:
    """Shared source: every under-rate phase first, then the bursts (which drain buckets)."""
    unders: list[list[int]] = []
    out: list[ZoneResult] = []
    try:
        for _label, url, rate in zones:
            unders.append(under_phase(target, url, rate, source))
    except TargetUnreachable as exc:
        return [ZoneResult(z[0], z[2], (), 0, None, None, error=str(exc)) for z in zones]
    for (label, url, rate), under in zip(zones, unders, strict=True):
        try:
            sent, first, status = burst_phase(target, url, rate, source)
        except TargetUnreachable as exc:
            out.append(ZoneResult(label, rate, tuple(under), 0, None, None, error=str(exc)))
            continue
        out.append(ZoneResult(label, rate, tuple(under), sent, first, status))
    return out


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
    sources = [source_address] * len(zones) if source_address else probe_sources(target, len(zones))
    if len(set(sources)) == len(zones) and None not in sources:
        with ThreadPoolExecutor(max_workers=len(zones)) as pool:
            results = list(
                pool.map(lambda z, src: probe_zone(target, z[0], z[1], z[2], src), zones, sources)
            )
    else:
        results = _probe_sequentially(target, zones, sources[0])
    observed = " | ".join(r.describe() for r in results)
    shown = sorted({s for s in sources if s})
    if shown:
        observed += f" (from {', '.join(shown)})"
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
