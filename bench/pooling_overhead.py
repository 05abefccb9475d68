"""Connection overhead, direct vs PgBouncer: prodcheck's method next to ``pgbench -n -C -c1 -t500``.

    .venv/bin/python bench/pooling_overhead.py [--n 500] [--repeat 3]

Starts one PostgreSQL and two PgBouncers (SCRAM secrets in the auth file = the stack's default;
plaintext passwords = the deliberately bad form), then for each path measures

- prodcheck: ``probes.pooling_overhead.time_connects`` (sequential connect + SELECT 1 + close,
  median / p95 in ms, the paths interleaved as ``measure_overhead`` does), and
- pgbench: ``pgbench -n -C -c1 -t<n> -f select1.sql`` "average connection time" (password via
  PGPASSWORD in the environment, never argv).

Prints a Markdown table for bench/RESULTS-pooling.md. Everything started is stopped on exit.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from pytest_prodcheck.core.proc import make_tempdir
from pytest_prodcheck.probes.pooling_overhead import LatencyStats, time_connects
from pytest_prodcheck.stack.pgbouncer import PgBouncerOptions, PgBouncerServer
from pytest_prodcheck.stack.postgres import PostgresServer


def pgbench(dsn: str, n: int, script: Path, bindir: Path) -> float:
    info = conninfo_to_dict(dsn)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSWORD"] = str(info["password"])
    argv = [
        str(bindir / "pgbench"),
        "-n",
        "-C",
        "-c1",
        f"-t{n}",
        "-f",
        str(script),
        "-h",
        str(info["host"]),
        "-p",
        str(info["port"]),
        "-U",
        str(info["user"]),
        str(info["dbname"]),
    ]
    out = subprocess.run(argv, capture_output=True, text=True, env=env, check=True).stdout
    m = re.search(r"average connection time = ([\d.]+) ms", out)
    if not m:
        raise SystemExit(f"unexpected pgbench output: {out}")
    return float(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    pg = PostgresServer(make_tempdir("pg-")).start()
    scram = PgBouncerServer(make_tempdir("pgb-"), pg).start()
    plain = PgBouncerServer(
        make_tempdir("pgb-"), pg, PgBouncerOptions(auth_mode="plaintext")
    ).start()
    paths = {
        "direct (scram-sha-256)": pg.dsn(),
        "PgBouncer, SCRAM secrets": scram.dsn(),
        "PgBouncer, plaintext auth_file": plain.dsn(),
    }
    mine: dict[str, list[float]] = {k: [] for k in paths}
    bench: dict[str, list[float]] = {k: [] for k in paths}
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as fh:
        fh.write("SELECT 1;\n")
    script = Path(fh.name)
    try:
        for dsn in paths.values():
            time_connects(dsn, 10)
        for _ in range(args.repeat):
            for name, dsn in paths.items():
                mine[name].extend(time_connects(dsn, args.n))
                bench[name].append(pgbench(dsn, args.n, script, pg.bindir))
    finally:
        script.unlink()
        plain.stop()
        scram.stop()
        pg.destroy()
    direct = "direct (scram-sha-256)"
    d_mine = statistics.median(mine[direct])
    d_bench = statistics.median(bench[direct])
    print(f"pressure: {Path('/proc/pressure/cpu').read_text().splitlines()[0]}")
    print(
        "| path | prodcheck median / p95 (ms) | reduction | pgbench -C avg connection time (ms), per run | reduction |"
    )
    print("|---|---|---|---|---|")
    for name in paths:
        s = LatencyStats.of(mine[name])
        b = statistics.median(bench[name])
        red = "" if name == direct else f"{100 * (1 - s.median_ms / d_mine):.0f} %"
        bred = "" if name == direct else f"{100 * (1 - b / d_bench):.0f} %"
        runs = ", ".join(f"{x:.2f}" for x in bench[name])
        print(
            f"| {name} | {s.median_ms:.2f} / {s.p95_ms:.2f} (n={s.n}) | {red} | {runs} | {bred} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
