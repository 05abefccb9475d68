"""Benchmark: every TLS + HTTP check of one site, against the reference nginx on loopback,
next to the sslyze CLI (TLS only) and testssl.sh (full default run) on the same server.

    .venv/bin/python bench/tls_site_checks.py              # all three, 5 runs of ours
    .venv/bin/python bench/tls_site_checks.py --runs 10 --no-testssl

Prints a Markdown table (median / min / max seconds) and the CPU pressure (the box is shared).
Target: all checks for one site in under 2 s (bench/RESULTS-tls.md).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_prodcheck.probes import http, tls, tls_site  # noqa: E402
from tests._tls_servers import Lab  # noqa: E402

HTTP_IDS = {c for c in tls_site.CHECK_IDS if not c.startswith("tls.")}


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def run_ok(
    cmd: list[str], *, must_print: str, ok_codes: tuple[int, ...] | None = (0,), cwd: str = "."
) -> None:
    """Run a tool and insist it really did its job (a fast failure is not a fast scan).

    ``ok_codes=None`` accepts any exit code (testssl.sh's counts findings)."""
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)
    if (ok_codes is not None and res.returncode not in ok_codes) or must_print not in res.stdout:
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"{cmd[0]} failed (exit {res.returncode}): {' | '.join(tail)}")


def pressure() -> str:
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return "n/a"


def row(name: str, times: list[float]) -> str:
    return (
        f"| {name} | {len(times)} | {statistics.median(times):.2f} | {min(times):.2f} "
        f"| {max(times):.2f} |"
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-testssl", action="store_true")
    args = ap.parse_args()
    lab = Lab.create()
    rows = []
    try:
        target = lab.site("good")
        report = tls_site.run_site_checks(target)  # warm-up (imports, trust stores)
        assert report.exit_code == 0, [c for c in report.checks if not c.ok]
        print(f"cpu pressure before: {pressure()}", file=sys.stderr)
        rows.append(
            row(
                "prodcheck: all 20 checks (run_site_checks)",
                timed(lambda: tls_site.run_site_checks(target), args.runs),
            )
        )
        rows.append(
            row(
                "  sslyze scan only (library, 6 protocols + cert)",
                timed(lambda: tls.scan_tls(target), args.runs),
            )
        )
        rows.append(
            row(
                "  HTTP checks only (incl. rate limit)",
                timed(lambda: tls_site.run_site_checks(target, only=HTTP_IDS), args.runs),
            )
        )
        rows.append(
            row("  rate-limit probe alone", timed(lambda: http.check_rate_limit(target), args.runs))
        )
        rows.append(
            row(
                "  rate-limit probe from one shared address (as on a remote site), incl. drain wait",
                timed(
                    lambda: http.check_rate_limit(target, source_address="127.0.0.9"),
                    min(args.runs, 3),
                ),
            )
        )
        rows.append(
            row(
                "  HTTP checks without the rate limit",
                timed(
                    lambda: tls_site.run_site_checks(target, only=HTTP_IDS - {"http.rate-limit"}),
                    args.runs,
                ),
            )
        )
        prodcheck = [
            str(Path(sys.executable).with_name("prodcheck")),
            "tls",
            "check",
            target.url,
            "--http-url",
            target.http_url,
            "--ca-bundle",
            lab.ca_bundle,
            "--json",
        ]
        for h, p, a in target.resolve:
            prodcheck += ["--resolve", f"{h}:{p}:{a}"]
        for n in target.names[1:]:
            prodcheck += ["--name", n]
        rows.append(
            row(
                "`prodcheck tls check` CLI (process incl. imports)",
                timed(
                    lambda: run_ok(prodcheck, must_print='"schema_version"', cwd="/tmp"), args.runs
                ),
            )
        )
        sslyze = [
            sys.executable,
            "-m",
            "sslyze",
            f"shop.test:{target.port}{{127.0.0.1}}",
            "--json_out=/dev/null",
        ]
        rows.append(
            row(
                "sslyze CLI, default scan (TLS only)",
                timed(
                    # exit 1 = scan done, "not compliant" (its trust stores lack the test CA)
                    lambda: run_ok(sslyze, must_print="SCANS COMPLETED", ok_codes=(0, 1)),
                    min(args.runs, 3),
                ),
            )
        )
        if not args.no_testssl and shutil.which("testssl"):
            ts = [
                "testssl",
                "--ip",
                "127.0.0.1",
                "--quiet",
                "--color",
                "0",
                "--warnings",
                "off",
                f"https://shop.test:{target.port}",
            ]
            rows.append(
                row(
                    "testssl.sh 3.0.8, full default run",
                    timed(lambda: run_ok(ts, must_print="Done", ok_codes=None), 1),
                )
            )
        print(f"cpu pressure after: {pressure()}", file=sys.stderr)
    finally:
        lab.close()
    print("| what | runs | median s | min s | max s |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
