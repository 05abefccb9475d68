"""Command line of the reference shop.

    python -m pytest_prodcheck.shop serve --host 127.0.0.1 --port 8000 [--workers N]
        (env PRODCHECK_SHOP_DSN, PRODCHECK_SHOP_AI_DSN; SIGTERM/SIGINT stop it cleanly;
         --workers 0, the default, runs one process per CPU core; uvicorn uses uvloop and
         httptools, its fastest event loop and HTTP parser, when they are installed)
    python -m pytest_prodcheck.shop migrate --dsn URL --ai-dsn URL

Exit codes: 0 ok, 2 bad arguments or configuration, 3 database unreachable or migration failed.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import signal
import sys
import tempfile
from types import FrameType
from typing import Any

from pytest_prodcheck.core.errors import ConfigError, ProdcheckError
from pytest_prodcheck.core.secrets import mask_text
from pytest_prodcheck.shop.metrics import METRICS_DIR_ENV
from pytest_prodcheck.shop.settings import AI_DSN_ENV, DSN_ENV, ShopSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pytest_prodcheck.shop")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the shop with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, default=0, help="processes (default 0: one per CPU core)"
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--access-log", action="store_true", help="log every request")
    migrate = sub.add_parser("migrate", help="create schema, indexes and seed data")
    migrate.add_argument("--dsn", default=os.environ.get(DSN_ENV), help=f"main db (or ${DSN_ENV})")
    migrate.add_argument(
        "--ai-dsn", default=os.environ.get(AI_DSN_ENV), help=f"AI db (or ${AI_DSN_ENV})"
    )
    return parser


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging config with every stream on stderr (access log included) + ours."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    config["loggers"]["prodcheck"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def cpu_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the whole machine)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    if not 0 < args.port < 65536:
        raise ConfigError(f"--port {args.port}: expected 1-65535")
    if not 0 <= args.workers <= 64:
        raise ConfigError(f"--workers {args.workers}: expected 0 (one per core) to 64")
    workers = args.workers or cpu_cores()
    share_dir = None
    if workers > 1 and not os.environ.get(METRICS_DIR_ENV):
        # each worker counts its own requests: /metrics sums them from here (see shop.metrics)
        share_dir = tempfile.mkdtemp(prefix="prodcheck-shop-metrics-")
        os.environ[METRICS_DIR_ENV] = share_dir
    ShopSettings.from_env(os.environ)  # fail fast, with one line, before uvicorn starts
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, restores the previous handlers and
    # re-raises the signal: let that land here so a requested stop exits 0, not -15.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    try:
        uvicorn.run(
            "pytest_prodcheck.shop.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=workers,
            loop="auto",  # uvloop if installed
            http="auto",  # httptools if installed
            log_level=args.log_level,
            log_config=log_config(args.log_level),
            access_log=args.access_log,
            proxy_headers=True,
            forwarded_allow_ips="127.0.0.1",
            server_header=False,
            timeout_graceful_shutdown=5,
        )
    finally:
        if share_dir:
            shutil.rmtree(share_dir, ignore_errors=True)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from pytest_prodcheck.shop.migrate import migrate

    if not args.dsn or not args.ai_dsn:
        missing = "--dsn" if not args.dsn else "--ai-dsn"
        raise ConfigError(f"{missing} is required (a postgresql:// URL; or set the env variable)")
    result = migrate(args.dsn, args.ai_dsn)
    state = "seeded" if result.main_seeded or result.ai_seeded else "already up to date"
    print(f"shop databases migrated ({state}) in {result.seconds:.2f} s", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _serve(args) if args.command == "serve" else _migrate(args)
    except ProdcheckError as exc:
        print(f"shop: error: {mask_text(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
