"""Benchmark: load-generator capacity (bundled user class vs wrk) and fixed overhead per load run.

    .venv/bin/python bench/load_generator.py [--seconds 10] [--runs 3]

1. nginx (1 worker, pinned to CPU 0) serves a static ``/json``. wrk (``-t1 -c50``, pinned to CPU 1)
   gives the ceiling; the bundled ``ShopUser`` (FastHttpUser, every journey path mapped onto
   ``/json``, zero think time, 50 users, pinned to CPU 1) gives what one generator core produces.
2. Fixed overhead: wall time of ``run_locust`` minus its ``-t`` for a 1-user run, single process
   and master + 2 workers.
Prints a Markdown table (copied into bench/RESULTS-load.md). Nothing is left running.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _load_target import tls_nginx

from pytest_prodcheck.load.journey import EndpointPaths
from pytest_prodcheck.load.runner import RunSpec, run_locust


def _paths() -> dict[str, str]:
    out = {}
    for key in EndpointPaths().to_dict():
        out[key] = "/json?id={id}" if key in ("product", "cart_item") else "/json"
    return out


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def wrk(url: str, seconds: int) -> tuple[float, float]:
    """(req/s, requests per CPU-second of wrk)."""
    cpu0 = _children_cpu()
    res = subprocess.run(["wrk", "-t1", "-c50", f"-d{seconds}s", url],
                         capture_output=True, text=True, check=True)  # fmt: skip
    cpu = _children_cpu() - cpu0
    m = re.search(r"Requests/sec:\s+([\d.]+)", res.stdout)
    assert m, res.stdout
    rps = float(m.group(1))
    return rps, rps * seconds / cpu


def locust_rps(base: str, seconds: int, out: Path) -> tuple[float, float, float]:
    """(req/s, CPU share of a core, requests per CPU-second of the generator)."""
    spec = RunSpec(host=base, out_dir=out, users=50, spawn_rate=50, run_time_s=seconds,
                   locust_config={"paths": _paths(), "wait_min": 0, "wait_max": 0},
                   max_cpu_ratio=2.0, max_loop_lag_ms=10_000)  # fmt: skip
    run = run_locust(spec)
    (proc,) = run.health.processes
    n = run.stats.total().count
    per_cpu = n / proc.window_cpu_s if proc.window_cpu_s else float("nan")
    return n / (run.stats.duration_s or seconds), proc.cpu_ratio, per_cpu


def overhead(base: str, out: Path, workers: int) -> float:
    spec = RunSpec(host=base, out_dir=out, users=1, spawn_rate=1, run_time_s=2, workers=workers,
                   locust_config={"paths": _paths(), "wait_min": 0.5, "wait_max": 0.5})  # fmt: skip
    return run_locust(spec).wall_s - 2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    ncpu = os.cpu_count() or 1
    os.sched_setaffinity(0, {0})
    server, _, json_url, _ = tls_nginx("127.0.0.1:9")
    base = json_url.removesuffix("/json")
    try:
        os.sched_setaffinity(0, {1 % ncpu})  # generator and wrk on the other core
        tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
        w = [wrk(json_url, args.seconds) for _ in range(args.runs)]
        loc = [locust_rps(base, args.seconds, tmp / f"l{i}") for i in range(args.runs)]
        os.sched_setaffinity(0, set(range(ncpu)))
        ov1 = [overhead(base, tmp / f"o{i}", 0) for i in range(args.runs)]
        ov2 = [overhead(base, tmp / f"w{i}", 2) for i in range(args.runs)]
    finally:
        server.stop()
    lw, lr = statistics.median(r for r, _ in w), statistics.median(r for r, _, _ in loc)
    wc, lc = statistics.median(c for _, c in w), statistics.median(c for _, _, c in loc)
    print(f"load average after the run: {os.getloadavg()}")
    print("| measurement | median | runs |")
    print("|---|---|---|")
    print(f"| wrk -t1 -c50 on /json | {lw:,.0f} req/s; {wc:,.0f} req per CPU-s"
          f" | {', '.join(f'{r:,.0f}' for r, _ in w)} |")  # fmt: skip
    print(f"| bundled ShopUser, 50 users, 0 think | {lr:,.0f} req/s ({lr / lw:.1%} of wrk);"
          f" {lc:,.0f} req per CPU-s ({lc / wc:.1%} of wrk's)"
          f" | {', '.join(f'{r:,.0f} (cpu {c:.0%})' for r, c, _ in loc)} |")  # fmt: skip
    print(f"| overhead per run, single process | {statistics.median(ov1):.2f} s"
          f" | {', '.join(f'{x:.2f}' for x in ov1)} |")  # fmt: skip
    print(f"| overhead per run, master + 2 workers | {statistics.median(ov2):.2f} s"
          f" | {', '.join(f'{x:.2f}' for x in ov2)} |")  # fmt: skip


if __name__ == "__main__":
    main()
