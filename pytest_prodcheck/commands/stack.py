"""``prodcheck stack up [--json]``: run the embedded stack until SIGINT/SIGTERM.

    $ prodcheck stack up --json
    {"apex":"shop.test","ca_bundle":"/dev/shm/…/ca.pem","pgbouncer_dsn":"postgresql://app:…@127.0.0.1:41236/ecommerce",…}
    ^C                       # everything stopped, exit 0

With ``--json`` exactly one JSON object (``Endpoints.to_json()``: DSNs with credentials, https
site URLs, curl-style resolve entries, CA bundle paths) is printed on one line once everything is
ready. Without it, a human summary with masked passwords. Exit codes: 0 stopped by a signal,
2 configuration error, 3 a service failed to start or died.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from types import FrameType
from typing import Any

from pytest_prodcheck.commands._common import settings_from_args
from pytest_prodcheck.core.errors import ConfigError, ToolError
from pytest_prodcheck.core.secrets import mask_dsn, mask_text
from pytest_prodcheck.stack.endpoints import Endpoints

__all__ = ["register", "run"]


class _Stop(BaseException):
    """Raised by the signal handler: unwind, stop everything, exit 0."""


def register(subparsers: Any) -> None:
    """Add ``stack up`` to the ``prodcheck`` parser."""
    parser = subparsers.add_parser("stack", help="run the embedded local stack")
    sub = parser.add_subparsers(dest="stack_command", required=True, metavar="up")
    up = sub.add_parser(
        "up",
        help="start the local stack, print its endpoints, serve until SIGINT/SIGTERM",
        description="Start PostgreSQL, PgBouncer, the shop, nginx, Pebble and an S3 server on "
        "free loopback ports; print where they are; stop everything on SIGINT/SIGTERM.",
    )
    up.add_argument("--json", action="store_true", help="print one JSON line once ready")
    up.add_argument("--config", metavar="PATH", help="prodcheck.toml for site names / S3 bucket")
    up.add_argument("--no-pebble", action="store_true", help="do not start the ACME server")
    up.add_argument(
        "--no-monitoring", action="store_true", help="do not start Prometheus/Alertmanager"
    )
    up.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for start-up (default 120)"
    )
    up.set_defaults(func=run)


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)


def _summary(endpoints: Endpoints, secrets: list[str]) -> str:
    data = endpoints.to_dict()
    lines = ["prodcheck local stack is up (Ctrl-C or SIGTERM stops it):"]
    for key in sorted(data):
        value = data[key]
        if value in (None, "", [], {}):
            continue
        text = json.dumps(value) if isinstance(value, dict | list) else str(value)
        lines.append(f"  {key:22} {mask_text(mask_dsn(text), extra=secrets)}")
    lines.append("  (passwords masked; use --json for the full DSNs)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Start, print, wait for a signal, stop. Returns the exit code."""
    if getattr(args, "timeout", 120.0) <= 0:
        raise ConfigError("--timeout must be a positive number of seconds")
    settings = settings_from_args(args)
    if settings.target != "local":  # a url makes it "external"
        raise ConfigError(
            f"'stack up' starts the embedded local stack, but the configuration selects "
            f"target {settings.target!r}: drop url/target from the config or pass another --config"
        )
    from dataclasses import replace

    from pytest_prodcheck.core import proc as _proc
    from pytest_prodcheck.stack.local import LocalStack, LocalStackOptions

    _proc.ensure_registry()  # the registry's own handler first, ours on top
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    options = LocalStackOptions.from_settings(settings)
    options = replace(
        options,
        pebble=not args.no_pebble,
        with_monitoring=not args.no_monitoring,
        timeout=args.timeout,
    )
    stack = LocalStack(options)
    try:
        endpoints = stack.start()
        if args.json:
            sys.stdout.write(endpoints.to_json() + "\n")
        else:
            sys.stdout.write(_summary(endpoints, stack.secrets()) + "\n")
        sys.stdout.flush()
        while True:
            time.sleep(0.5)
            dead = _dead_service(stack)
            if dead:
                raise ToolError(f"{dead} stopped unexpectedly; the stack was shut down")
    except _Stop:
        return 0
    finally:
        # a second signal during shutdown must not interrupt it
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
        try:
            stack.stop()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def _dead_service(stack: Any) -> str | None:
    checks = [
        ("PostgreSQL", stack.postgres and stack.postgres.process),
        ("PgBouncer", stack.pgbouncer and stack.pgbouncer.process),
        ("nginx", stack.nginx and stack.nginx.process),
        ("the S3 server", stack.s3 and stack.s3.process),
        ("the shop", stack.shop and stack.shop.process),
    ]
    for name, proc in checks:
        if proc and proc.popen is not None and not proc.alive:
            return name
    return None
