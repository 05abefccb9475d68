"""Benchmark: the whole local stack ready (every service answering, shop seeded and healthy).

    .venv/bin/python bench/stack_start.py [--runs 5] [--cold-runs 5] [--no-monitoring] [--json]

*warm*: the PostgreSQL template is cached (the normal case); *cold*: a fresh template root, so
the template is built (initdb + roles + shop migrate + seed) first. Each start runs in a fresh
interpreter (ready = importing the stack + ``start()``, what a pytest session or ``prodcheck stack
up`` pays); ``--in-process`` repeats starts in one process instead (warm imports, lower numbers). Reports the median and range of
``LocalStack.start()`` (until everything answers) and of ``stop()``, plus the per-phase marks of
the median warm run. Record results in ``bench/RESULTS-stack.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_prodcheck.stack import pg_template
from pytest_prodcheck.stack.local import LocalStack, LocalStackOptions

_FRESH = """
import json, sys, time
t0 = time.perf_counter()
from pytest_prodcheck.stack import pg_template
from pytest_prodcheck.stack.local import LocalStack, LocalStackOptions
if sys.argv[2]:
    pg_template.TEMPLATE_ROOT = __import__("pathlib").Path(sys.argv[2])
stack = LocalStack(LocalStackOptions(with_monitoring=sys.argv[1] == "1"))
t1 = time.perf_counter()
stack.start()
t2 = time.perf_counter()
stack.stop()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "ready": t2 - t1, "stop": t3 - t2, "marks": stack.timings}))
"""


def _once_fresh(
    options: LocalStackOptions, template_root: str = ""
) -> tuple[float, float, dict[str, float]]:
    """One start in a new interpreter (what a pytest session or ``stack up`` pays): the imports
    of psycopg, cryptography, jinja2, … are not warm. Ready = import of the stack + start()."""
    monitoring = "1" if options.with_monitoring else "0"
    out = subprocess.run(
        [sys.executable, "-c", _FRESH, monitoring, template_root],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    return data["import"] + data["ready"], data["stop"], data["marks"]


def _once(options: LocalStackOptions) -> tuple[float, float, dict[str, float]]:
    stack = LocalStack(options)
    t0 = time.perf_counter()
    stack.start()
    ready = time.perf_counter() - t0
    marks = dict(stack.timings)
    t1 = time.perf_counter()
    stack.stop()
    return ready, time.perf_counter() - t1, marks


def _pressure() -> str:
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return "n/a"


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="warm runs (default 5)")
    parser.add_argument("--cold-runs", type=int, default=5, help="cold runs (default 5)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-monitoring", action="store_true", help="without Prometheus & co.")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="repeat starts in this process (warm imports: flatters the numbers)",
    )
    args = parser.parse_args()
    options = LocalStackOptions(with_monitoring=not args.no_monitoring)

    results: dict[str, object] = {"cpu_pressure_before": _pressure(), "cpus": os.cpu_count()}
    original_root = pg_template.TEMPLATE_ROOT
    cold: list[tuple[float, float, dict[str, float]]] = []
    for _ in range(args.cold_runs):
        root = Path(tempfile.mkdtemp(prefix="prodcheck-bench-tmpl-", dir="/var/tmp"))
        root.chmod(0o755)
        pg_template.TEMPLATE_ROOT = root
        try:
            cold.append(_once(options) if args.in_process else _once_fresh(options, str(root)))
        finally:
            pg_template.TEMPLATE_ROOT = original_root
            shutil.rmtree(root, ignore_errors=True)
    _once(options)  # make sure the real template exists before timing warm starts
    once = _once if args.in_process else _once_fresh
    warm = [once(options) for _ in range(args.runs)]
    results["mode"] = "in-process" if args.in_process else "fresh interpreter per start"

    if cold:
        results["cold_ready_s"] = _summary([r for r, _, _ in cold])
    results["warm_ready_s"] = _summary([r for r, _, _ in warm])
    results["warm_stop_s"] = _summary([s for _, s, _ in warm])
    median_run = sorted(warm, key=lambda r: r[0])[len(warm) // 2]
    results["warm_median_marks_s"] = median_run[2]
    results["cpu_pressure_after"] = _pressure()
    if args.json:
        print(json.dumps(results))
    else:
        for key, value in results.items():
            print(f"{key:22} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
