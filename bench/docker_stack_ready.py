"""Benchmark: the docker target's stack ready, next to the local stack, in one run.

    .venv/bin/python bench/docker_stack_ready.py [--runs 3] [--json]

Each start runs in a fresh interpreter (ready = importing the provider + ``start()``, what a
pytest session pays), alternating local / docker so machine load hits both alike. Docker: the
engine already answers and the images are cached (warm), so this is the containers' start-up:
PostgreSQL initdb + roles, the shop's migrate + seed, PgBouncer, the shop, nginx, S3, Pebble.
Local: ``LocalStack`` without monitoring (the docker target has none). Also reported: the
per-phase marks of the median docker run and ``stop()`` (containers removed). Record results in
``bench/RESULTS-docker.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

_FRESH = """
import json, sys, time
t0 = time.perf_counter()
if sys.argv[1] == "docker":
    from pytest_prodcheck.stack.containers import DockerStack
    stack = DockerStack()
else:
    from pytest_prodcheck.stack.local import LocalStack, LocalStackOptions
    stack = LocalStack(LocalStackOptions(with_monitoring=False))
t1 = time.perf_counter()
stack.start()
t2 = time.perf_counter()
stack.stop()
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "ready": t2 - t0, "stop": t3 - t2, "marks": stack.timings}))
"""


def once(target: str) -> dict[str, object]:
    res = subprocess.run(
        [sys.executable, "-c", _FRESH, target], capture_output=True, text=True, timeout=900,
        cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    if res.returncode != 0:
        raise SystemExit(f"{target} stack failed: {res.stderr.strip().splitlines()[-1:]}")
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


def _pressure() -> str:
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return "n/a"
    return line.split()[1].split("=")[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    once("docker")  # warm-up: images built/cached, engine up
    results: dict[str, list[dict[str, object]]] = {"local": [], "docker": []}
    before = _pressure()
    for _ in range(args.runs):
        for target in ("local", "docker"):
            results[target].append(once(target))
    after = _pressure()
    summary = {}
    for target, runs in results.items():
        ready = sorted(float(r["ready"]) for r in runs)  # type: ignore[arg-type]
        stop = sorted(float(r["stop"]) for r in runs)  # type: ignore[arg-type]
        median = statistics.median(ready)
        marks = min(runs, key=lambda r: abs(float(r["ready"]) - median))["marks"]  # type: ignore[arg-type]
        summary[target] = {"ready_median": round(median, 2), "ready_min": round(ready[0], 2),
                           "ready_max": round(ready[-1], 2), "stop_median":
                           round(statistics.median(stop), 2), "marks": marks}  # fmt: skip
    if args.json:
        print(json.dumps({"cpu_pressure": [before, after], **summary}))
        return 0
    print(f"CPU pressure some avg10: {before} -> {after}; {args.runs} runs each, fresh interpreter")
    print("| target | ready: median (min-max) | stop: median |")
    print("|---|---|---|")
    for target, s in summary.items():
        print(f"| {target} | {s['ready_median']} s ({s['ready_min']}-{s['ready_max']}) | "
              f"{s['stop_median']} s |")  # fmt: skip
    print(f"docker marks (median run): {summary['docker']['marks']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
