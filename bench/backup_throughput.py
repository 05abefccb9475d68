"""Backup throughput: ``prodcheck backup`` vs plain ``pg_dump | gzip``, and the restore drill's time.

    .venv/bin/python bench/backup_throughput.py                 # >= 200 MB database, 3 rounds
    .venv/bin/python bench/backup_throughput.py --mb 50 --rounds 1   # quick look

Starts a throwaway PostgreSQL (the stack's template, on tmpfs), fills one table until the database
is at least ``--mb`` MB, then alternates the two ways of backing it up (same pg_dump options,
gzip level 6 both) and reports medians, the overhead ratio (target < 15 %) and one restore drill.
Prints a Markdown table for bench/RESULTS-backup.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import time
from pathlib import Path

from pytest_prodcheck.backup.dsn import PgTarget, child_env
from pytest_prodcheck.backup.dump import dump_database
from pytest_prodcheck.backup.verify import verify_backup
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.stack.postgres import temporary_server

FILL = """
CREATE TABLE IF NOT EXISTS orders (
    id bigserial PRIMARY KEY, customer_id int, status text, total numeric(12,2),
    note text, created timestamptz);
INSERT INTO orders (customer_id, status, total, note, created)
SELECT g % 50000, (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4], (g % 100000) / 7.0,
       'order ' || g || ' ' || md5(g::text) || ' ' || repeat(chr(97 + g % 26), 1 + g % 40),
       timestamptz '2025-01-01' + (g || ' seconds')::interval
FROM generate_series({start}, {end}) g;
"""


def fill(target: PgTarget, mb: int) -> tuple[int, float]:
    t0 = time.monotonic()
    start = 1
    step = 500_000
    with target.connect() as conn:
        while True:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            assert size is not None
            if size[0] >= mb * 1024 * 1024:
                return int(size[0]), time.monotonic() - t0
            conn.execute(FILL.format(start=start, end=start + step - 1).encode())
            start += step


def cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def plain(target: PgTarget, bindir: Path, out: Path) -> float:
    pg_dump = bindir / "pg_dump"
    cmd = (
        f"{pg_dump} --dbname '{target.url_without_password}' --no-password --format=plain "
        f"--encoding=UTF8 | gzip -6 > {out}"
    )
    with child_env(target) as env:
        t0 = time.monotonic()
        subprocess.run(["bash", "-o", "pipefail", "-c", cmd], env=env, check=True)
        return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    server = temporary_server(migrate=False)
    work = make_tempdir("backup-bench-")
    try:
        target = PgTarget.from_dsn(server.dsn("ecommerce"))
        admin = PgTarget.from_dsn(server.admin_dsn)
        size, fill_s = fill(target, args.mb)
        print(f"database: {size / 1e6:.0f} MB (pg_database_size), generated in {fill_s:.1f} s")
        plain_s: list[float] = []
        tool_s: list[float] = []
        plain_cpu: list[float] = []
        tool_cpu: list[float] = []
        plain_size = tool_size = 0
        last = None
        for i in range(args.rounds):
            p_out = work / f"plain{i}.sql.gz"
            c0 = cpu(resource.RUSAGE_CHILDREN)
            plain_s.append(plain(target, server.bindir, p_out))
            plain_cpu.append(cpu(resource.RUSAGE_CHILDREN) - c0)
            plain_size = p_out.stat().st_size
            p_out.unlink()
            c0 = cpu(resource.RUSAGE_CHILDREN) + cpu(resource.RUSAGE_SELF)
            t0 = time.monotonic()
            res = dump_database(target, "main", work / f"tool{i}", bindir=server.bindir)
            tool_s.append(time.monotonic() - t0)
            tool_cpu.append(cpu(resource.RUSAGE_CHILDREN) + cpu(resource.RUSAGE_SELF) - c0)
            tool_size = res.path.stat().st_size
            last = res
            print(
                f"round {i + 1}: pg_dump|gzip {plain_s[-1]:.2f} s ({plain_cpu[-1]:.2f} s CPU), "
                f"prodcheck {tool_s[-1]:.2f} s ({tool_cpu[-1]:.2f} s CPU)"
            )
        assert last is not None
        t0 = time.monotonic()
        _, drill = verify_backup(last.path, admin, bindir=server.bindir)
        verify_s = time.monotonic() - t0
        mp, mt = statistics.median(plain_s), statistics.median(tool_s)
        rows = last.manifest.total_rows
        print()
        print("| metric | value |\n|---|---|")
        print(f"| database size | {size / 1e6:.0f} MB, {rows} rows |")
        print(
            f"| `pg_dump \\| gzip -6` (median of {args.rounds}) | {mp:.2f} s → {plain_size / 1e6:.1f} MB |"
        )
        print(
            f"| `dump_database` (median of {args.rounds}) | {mt:.2f} s → {tool_size / 1e6:.1f} MB |"
        )
        print(f"| overhead (tool / plain − 1) | {100 * (mt / mp - 1):+.1f} % (target < 15 %) |")
        paired = statistics.median(t / p for t, p in zip(tool_s, plain_s, strict=True))
        print(f"| overhead, median of per-round ratios | {100 * (paired - 1):+.1f} % |")
        print(
            f"| overhead, best round vs best round | {100 * (min(tool_s) / min(plain_s) - 1):+.1f} % |"
        )
        print(
            f"| all rounds plain / tool | {', '.join(f'{x:.2f}' for x in plain_s)} / "
            f"{', '.join(f'{x:.2f}' for x in tool_s)} s |"
        )
        pc, tc = statistics.median(plain_cpu), statistics.median(tool_cpu)
        print(
            f"| client CPU (pg_dump + gzip vs pg_dump + prodcheck), median | {pc:.2f} s vs "
            f"{tc:.2f} s: {100 * (tc / pc - 1):+.1f} % |"
        )
        print(f"| restore drill: psql load | {drill.restore_s:.2f} s |")
        print(
            f"| restore drill: total (create, load, re-dump, compare, drop) | {drill.total_s:.2f} s |"
        )
        print(f"| verify (integrity pass + drill) | {verify_s:.2f} s |")
        print(
            f"| machine | {platform.node()}, {os.cpu_count()} cpu, load {os.getloadavg()[0]:.1f} |"
        )
    finally:
        remove_tempdir(work)
        server.destroy()


if __name__ == "__main__":
    main()
