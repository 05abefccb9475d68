"""Benchmark: `migrate` into empty databases (cold seed) and again (no-op), median of N.

    .venv/bin/python bench/shop_migrate.py [--runs 5]

Starts a throwaway PostgreSQL from the stack's template (see stack/postgres.py), creates fresh
database pairs owned by the app role and times pytest_prodcheck.shop.migrate.migrate on each.
"""

from __future__ import annotations

import argparse
import statistics
import time

from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.shop.migrate import migrate
from pytest_prodcheck.stack.postgres import PostgresServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    pg = PostgresServer(make_tempdir("bench-shop-pg-")).start()
    cold, warm, cli = [], [], []
    try:
        for i in range(args.runs):
            pg.create_database(f"bench_main_{i}")
            pg.create_database(f"bench_ai_{i}")
            dsn, ai = pg.dsn(f"bench_main_{i}"), pg.dsn(f"bench_ai_{i}")
            t = time.perf_counter()
            first = migrate(dsn, ai)
            cold.append(time.perf_counter() - t)
            assert first.main_seeded and first.ai_seeded
            t = time.perf_counter()
            again = migrate(dsn, ai)
            warm.append(time.perf_counter() - t)
            assert not again.main_seeded
        import subprocess
        import sys

        for i in range(args.runs):
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "pytest_prodcheck.shop", "migrate", "--dsn",
                 pg.dsn(f"bench_main_{i}"), "--ai-dsn", pg.dsn(f"bench_ai_{i}")],
                check=True, capture_output=True,
            )  # fmt: skip
            cli.append(time.perf_counter() - t)
    finally:
        pg.destroy()
    for name, values in (
        ("migrate, empty dbs (cold seed)", cold),
        ("migrate again (no-op)", warm),
        ("CLI `migrate` no-op incl. interpreter start", cli),
    ):
        print(
            f"{name:45s} median {statistics.median(values):.3f} s  "
            f"min {min(values):.3f}  max {max(values):.3f}  (n={len(values)})"
        )


if __name__ == "__main__":
    main()
