"""``prodcheck load``: run a load profile against a site and judge the guide's thresholds.

    $ prodcheck load smoke --host https://shop.example.com
    load smoke  12/120s  users 10  rps 11.2  p95 45ms  errors 0 (0.00%)   (stderr)
    ...
    load smoke: 1321 requests in 120.4s against https://shop.example.com
      p(95) < 1000ms: 87ms ✓
      ...
    $ prodcheck load spike --shape spike --duration 60   # the flash-sale shape, compressed
    $ prodcheck load baseline --workers 2                # Locust master + 2 local workers
    $ prodcheck load smoke --web                         # Locust's web UI on 127.0.0.1, Ctrl-C stops

The host comes from ``--host``, else ``url`` (with ``resolve`` entries: connect to the address, send
the site's name as Host/SNI), else the embedded local stack is started for the run. Reports: ``<report_dir>/load/<profile>-<UTC time>/`` (Locust HTML,
CSV, JSON + ``summary.json``). Exit codes: 0 every threshold met, 1 a threshold failed,
2 usage/configuration error, 3 target unreachable, Locust failed, or the generator was saturated
(the run is invalid, not the target).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from pytest_prodcheck.commands._common import add_config_args, settings_from_args
from pytest_prodcheck.config import Settings
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.core.proc import ProcessGroup
from pytest_prodcheck.core.secrets import mask_text
from pytest_prodcheck.load.api import (
    LoadPlan,
    accounts_from_endpoints,
    execute,
    plan_load,
    run_dir,
    target_from_endpoints,
)
from pytest_prodcheck.load.profiles import PROFILES
from pytest_prodcheck.load.progress import stream_view
from pytest_prodcheck.load.runner import check_reachable, locust_command
from pytest_prodcheck.load.shapes import SHAPES


def register(subparsers: Any) -> None:
    """Add ``prodcheck load PROFILE ...`` to the CLI."""
    p = subparsers.add_parser(
        "load",
        help="run a Locust load profile and check the P95/P99/error-rate/throughput thresholds",
        description="Run the bundled shop journey with Locust (subprocess) and judge thresholds.",
    )
    p.add_argument("profile", choices=list(PROFILES), metavar="PROFILE", help=", ".join(PROFILES))
    p.add_argument("--host", metavar="URL", help="base URL to load (default: the url setting)")
    p.add_argument("--host-header", metavar="NAME", help="Host header / TLS SNI name to send")
    p.add_argument("--ca-bundle", metavar="PEM", help="verify TLS with this CA bundle")
    p.add_argument("--shape", choices=list(SHAPES), help="use the guide's traffic shape")
    p.add_argument("--web", action="store_true", help="open Locust's web UI instead (127.0.0.1)")
    p.add_argument("--web-port", type=int, default=8089, metavar="PORT", help="web UI port")
    p.add_argument("--duration", type=_positive, metavar="S", help="run time in seconds")
    p.add_argument("--users", type=_positive_int, metavar="N", help="override the user count")
    p.add_argument("--spawn-rate", type=_positive, metavar="R", help="users started per second")
    p.add_argument("--workers", type=_non_negative_int, metavar="N", help="local Locust workers")
    p.add_argument("--report-dir", metavar="DIR", help="where reports/load/... goes")
    p.add_argument("--json", action="store_true", help="print summary.json instead of text")
    p.add_argument(
        "--record",
        action="store_true",
        help="record this run as the target's baseline of the profile (when it passes)",
    )
    add_config_args(p)
    p.set_defaults(func=run)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _non_negative_int(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def _target(
    args: argparse.Namespace, settings: Settings, stack: contextlib.ExitStack
) -> tuple[str, str | None, str | None, Any]:
    """(host to connect to, Host header, CA bundle, embedded stack's Endpoints or None):
    --host, else url, else the embedded stack."""
    ca = args.ca_bundle or settings.ca_bundle
    if args.host:
        return args.host, args.host_header, ca, None
    if settings.url:
        host, header = target_from_endpoints(settings.url, tuple(settings.resolve))
        return host, args.host_header or header, ca, None
    if settings.target != "local":
        raise ConfigError("no target: pass --host https://your.site or set url in prodcheck.toml")
    from pytest_prodcheck.stack.provider import open_stack

    print("starting the embedded stack (no --host or url given)...", file=sys.stderr, flush=True)
    endpoints = stack.enter_context(open_stack(settings))
    site = endpoints.require("site_url", key="url")
    host, header = target_from_endpoints(site, tuple(endpoints.resolve))
    return host, args.host_header or header, ca or endpoints.ca_bundle, endpoints


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    with contextlib.ExitStack() as stack:
        host, header, ca, ep = _target(args, settings, stack)
        plan = plan_load(  # everything validated before anything starts
            settings,
            args.profile,
            host=host,
            host_header=header,
            ca_bundle=ca,
            accounts=accounts_from_endpoints(ep.extras) if ep is not None else None,
            metrics_url=ep.metrics_url if ep is not None else None,
            pgbouncer_dsn=ep.extras.get("pgbouncer_stats_dsn") if ep is not None else None,
            shape=args.shape,
            duration_s=None if args.web else args.duration,
            users=args.users,
            spawn_rate=args.spawn_rate,
            workers=None if args.web else args.workers,
            report_dir=args.report_dir,
            out_dir=run_dir(args.report_dir or settings.report_dir or "reports", "web")
            if args.web
            else None,
        )
        check_reachable(host)
        if args.web:
            return _run_web(args, plan)
        return _run_headless(args, plan, settings)


def _run_headless(args: argparse.Namespace, plan: LoadPlan, settings: Any) -> int:
    host = plan.spec.host
    total = plan.spec.run_length_s()
    print(
        f"load {plan.name}: {plan.profile.users if not plan.spec.shape else 'shape'} users, "
        f"{total:.0f}s against {mask_text(host)}; reports in {plan.spec.out_dir}",
        file=sys.stderr,
        flush=True,
    )

    view = stream_view(f"load {plan.name}", total)  # TTY: one line in place; CI: every 10 s
    try:
        outcome = execute(plan, progress=view)
    finally:
        view.close()
    if args.json:
        print(outcome.summary_path.read_text(encoding="utf-8"))
    else:
        print("\n".join(outcome.lines()), flush=True)
    from pytest_prodcheck.history.records import target_key
    from pytest_prodcheck.release.service import after_load  # baseline + history (issue 14)

    summary = json.loads(outcome.summary_path.read_text(encoding="utf-8"))
    target = target_key("external", args.host) if args.host else None
    done = after_load(settings, summary, str(outcome.summary_path), os.environ,
                      record_baseline=args.record, target=target)  # fmt: skip
    for line in done.lines:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)
    if done.error:
        print(f"prodcheck: error: {mask_text(done.error)}", file=sys.stderr)
    if not outcome.valid:
        return 3
    if done.refused:
        return 1
    return 0 if outcome.ok and not done.regressed else 1


def _run_web(args: argparse.Namespace, plan: LoadPlan) -> int:
    """Locust's web UI on the bundled locustfile, bound to 127.0.0.1; Ctrl-C stops it."""
    host = plan.spec.host
    out: Path = plan.spec.out_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "locust-config.json").write_text(json.dumps(dict(plan.spec.locust_config)))
    port = args.web_port or free_port()
    argv = [
        *locust_command(plan.spec),  # locustfile (+ shape file) + hook: 1 ms percentiles
        "--web-host", "127.0.0.1", "--web-port", str(port), "--host", host,
        "-u", str(plan.profile.users), "-r", f"{plan.profile.spawn_rate:g}",
        "--html", str(out / "locust.html"), "--csv", str(out / "locust"),
    ]  # fmt: skip
    env = {"PRODCHECK_LOAD_CONFIG": str(out / "locust-config.json")}
    group = ProcessGroup("locust web UI")  # killed by the run registry on SIGTERM / at exit
    web = group.spawn("web", argv, env={**os.environ, **env})  # output to our terminal
    print(
        f"Locust web UI: http://127.0.0.1:{port}  (target {mask_text(host)}; Ctrl-C stops)",
        flush=True,
    )
    try:
        while not web.poll():
            time.sleep(0.2)
        group.terminate(grace=3.0)
        return 0 if web.rc == 0 else 3
    except KeyboardInterrupt:
        print("stopping Locust web UI", file=sys.stderr)
        return 0
    finally:
        group.terminate(grace=3.0)  # SIGTERM Locust's group, SIGKILL after 3 s; reaped
