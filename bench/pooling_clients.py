"""The 1000-client pool check: wall time on this machine (the issue's target: < 10 s).

    .venv/bin/python bench/pooling_clients.py [--clients 1000] [--repeat 3]

One PostgreSQL, one PgBouncer with the guide's settings (SCRAM secrets); each repetition runs
``probes.pooling_load.run_pool_cap`` exactly as ``suites/test_pooling.py::test_pool_caps_the_server``
does (clients split over ``ecommerce`` and ``ai``, 3 × ``SELECT pg_sleep(0.02)`` each, all
connected at once, pg_stat_activity sampled every 10 ms). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.probes.pooling_load import check_pool_caps_server, run_pool_cap
from pytest_prodcheck.stack.pgbouncer import PgBouncerServer
from pytest_prodcheck.stack.postgres import PostgresServer


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    pg = PostgresServer(make_tempdir("pg-")).start()
    pgb = PgBouncerServer(make_tempdir("pgb-"), pg).start()
    rows = []
    try:
        for _ in range(args.repeat):
            pressure = Path("/proc/pressure/cpu").read_text().split()[1]
            t0 = time.perf_counter()
            r = run_pool_cap(
                [pgb.dsn("ecommerce"), pgb.dsn("ai")], pg.dsn("ecommerce"), clients=args.clients
            )
            total = time.perf_counter() - t0
            rows.append((r, total, check_pool_caps_server(r, 100).status, pressure))
            time.sleep(1)
    finally:
        pgb.stop()
        pg.destroy()
    print(
        "| run | clients | failed | peak ecommerce / ai | wall (s) | median connect (s) | samples | check | cpu pressure before |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for i, (r, _total, status, pressure) in enumerate(rows, 1):
        peaks = f"{r.peak_per_database.get('ecommerce')} / {r.peak_per_database.get('ai')}"
        print(
            f"| {i} | {r.clients} | {r.failures} | {peaks} | {r.wall_s:.2f} | {r.connect_p50_s:.2f} | {r.samples} | {status} | {pressure} |"
        )
    print(f"\nmedian wall: {statistics.median(r.wall_s for r, *_ in rows):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
