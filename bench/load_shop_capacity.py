"""Benchmark: the embedded shop's capacity (req/s at p95 < 1 s) through nginx + TLS on this box.

    .venv/bin/python bench/load_shop_capacity.py [--steps 25,50,100,200,400] [--seconds 20]

Starts the local stack (PostgreSQL, PgBouncer, nginx, shop; ``open_stack``), then runs the bundled
journey (0.5–1.5 s think time) at each user count for ``--seconds`` and prints req/s, p95/p99,
error rate and generator CPU per step. Capacity = the highest req/s of a step with non-AI
p95 < 1000 ms and error rate < 1 %. Generator and site share the same 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from pytest_prodcheck.config import load_settings
from pytest_prodcheck.load.api import (
    accounts_from_endpoints,
    execute,
    plan_load,
    target_from_endpoints,
)
from pytest_prodcheck.stack.provider import open_stack


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="50,100,200,300,500,700")
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    settings = load_settings(None, {"load.min_rps": 1}, env=dict(os.environ))
    tmp = Path(tempfile.mkdtemp(prefix="bench-shop-"))
    rows = []
    with open_stack(settings) as ep:
        host, header = target_from_endpoints(ep.site_url or "", tuple(ep.resolve))
        for users in (int(u) for u in args.steps.split(",")):
            plan = plan_load(settings, "stress", host=host, host_header=header,
                             ca_bundle=ep.ca_bundle, users=users, duration_s=args.seconds,
                             out_dir=tmp / f"u{users}",
                             accounts=accounts_from_endpoints(ep.extras),
                             steps=False)  # fmt: skip
            o = execute(plan)
            non_ai = o.run.stats.group(plan.thresholds.ai_pattern, invert=True)
            total = o.run.stats.total()
            (proc,) = o.run.health.processes
            rows.append((users, o.run.stats.rps() or 0.0, non_ai.percentile(0.95),
                         non_ai.percentile(0.99), total.error_rate or 0.0, proc.cpu_ratio,
                         o.run.health.saturated))  # fmt: skip
            print(rows[-1], flush=True)
    print(f"load average after the run: {os.getloadavg()}")
    print("| users | req/s | non-AI p95 | non-AI p99 | errors | generator CPU |")
    print("|---|---|---|---|---|---|")
    for u, rps, p95, p99, err, cpu, sat in rows:
        flag = " (saturated)" if sat else ""
        print(f"| {u} | {rps:.1f} | {p95} ms | {p99} ms | {err:.2%} | {cpu:.0%}{flag} |")
    ok = [r for r in rows if r[2] is not None and r[2] < 1000 and r[4] < 0.01 and not r[6]]
    if ok:
        print(f"capacity: {max(r[1] for r in ok):.1f} req/s at p95 < 1 s")


if __name__ == "__main__":
    main()
