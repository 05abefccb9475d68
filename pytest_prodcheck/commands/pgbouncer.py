"""``prodcheck pgbouncer``: the guide's monitoring commands without docker exec or psql.

    $ prodcheck pgbouncer pools --admin-dsn postgresql://pgb_admin:${PW}@127.0.0.1:6432/pgbouncer
    database  | user      | cl_active | cl_waiting | ... | pool_mode
    ----------+-----------+-----------+------------+-----+----------
    ecommerce | app       |         3 |          0 | ... | transaction
    (1 row)
    $ prodcheck pgbouncer audit     # compare with [pgbouncer] expectations; exit 1 on a mismatch

Sub-commands ``stats``, ``pools``, ``clients``, ``servers``, ``config``, ``databases`` print the
matching ``SHOW`` as an aligned table (``--json`` for machine use); ``audit`` compares the
configuration with the expected values, then runs the ``console`` rows of
:data:`~pytest_prodcheck.probes.pooling_checks.POOLING_CHECKS` (the prepared-statement risk). The admin DSN comes
from ``--admin-dsn`` or ``[pgbouncer] admin_dsn``; a DSN without a password uses ``PGPASSWORD``.
Exit codes: 0 ok, 1 a check failed, 2 usage/config error, 3 PgBouncer unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pytest_prodcheck.commands._common import settings_from_args
from pytest_prodcheck.config import Settings
from pytest_prodcheck.core.dsn import dsn_password
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.pgbouncer_admin import AdminConsole
from pytest_prodcheck.core.secrets import mask_text
from pytest_prodcheck.probes.pgbouncer import audit_config
from pytest_prodcheck.probes.pooling_checks import POOLING_CHECKS, PoolingInputs
from pytest_prodcheck.stack.endpoints import Endpoints

SHOW_COMMANDS = ("stats", "pools", "clients", "servers", "config", "databases")


def register(subparsers: Any) -> None:
    """Add ``prodcheck pgbouncer ...`` to the CLI."""
    parser = subparsers.add_parser(
        "pgbouncer",
        help="show PgBouncer stats/pools/clients/servers/config, or audit its configuration",
        description="PgBouncer admin console views (the guide's monitoring commands) and audit.",
    )
    sub = parser.add_subparsers(dest="pgbouncer_command", metavar="COMMAND")
    sub.required = True
    for name in (*SHOW_COMMANDS, "audit"):
        what = f"SHOW {name.upper()}" if name != "audit" else "check the configuration"
        p = sub.add_parser(name, help=what, description=what)
        p.add_argument(
            "--admin-dsn",
            metavar="DSN",
            help="PgBouncer admin console, e.g. postgresql://pgb_admin@127.0.0.1:6432/pgbouncer "
            "(default: [pgbouncer] admin_dsn; the password may come from PGPASSWORD)",
        )
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        _add_config_args(p)
        p.set_defaults(func=run)


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    try:
        from pytest_prodcheck.commands._common import add_config_args
    except ImportError:  # pragma: no cover - foundation helper not present
        parser.add_argument("--config", metavar="PATH", help="prodcheck.toml to read")
        return
    add_config_args(parser)


def _admin_dsn(args: argparse.Namespace) -> tuple[str, Settings | None]:
    settings: Settings | None = None
    dsn = args.admin_dsn
    if not dsn or args.pgbouncer_command == "audit":
        settings = settings_from_args(args)
        dsn = dsn or settings.pgbouncer.admin_dsn
    if not dsn:
        raise ConfigError(
            "no PgBouncer admin DSN: pass --admin-dsn postgresql://USER@HOST:6432/pgbouncer "
            "(password via PGPASSWORD) or set [pgbouncer] admin_dsn in prodcheck.toml"
        )
    return dsn, settings


def run(args: argparse.Namespace) -> int:
    """Print one admin view, or audit; returns the exit code."""
    dsn, settings = _admin_dsn(args)
    secrets = [dsn_password(dsn) or ""]
    out = sys.stdout
    if args.pgbouncer_command == "audit":
        # the configuration audit, then the table's checks of the admin console
        inputs = PoolingInputs(
            Endpoints(target="external", pgbouncer_admin_dsn=dsn),
            settings if settings is not None else settings_from_args(args),
        )
        snapshot = inputs.console
        results = audit_config(snapshot.config, snapshot.databases, inputs.expected)
        results += [check.run(inputs) for check in POOLING_CHECKS.by_group()["console"]]
        version = snapshot.version
        if args.json:
            payload = {
                "schema_version": 1,
                "version": version,
                "checks": [r.to_dict() for r in results],
            }
            out.write(mask_text(json.dumps(payload), extra=secrets) + "\n")
        else:
            width = max(len(r.id) for r in results)
            for r in results:
                line = f"{r.status.upper():5} {r.id.ljust(width)}  {r.observed}"
                if not r.ok and r.message:
                    line += f"  -- {r.message}"
                out.write(mask_text(line, extra=secrets) + "\n")
        return 0 if all(r.ok for r in results) else 1
    with AdminConsole(dsn) as console:
        table = console.show(args.pgbouncer_command.upper())
    if args.json:
        text = json.dumps({"columns": list(table.columns), "rows": table.dicts()})
    else:
        text = table.render()
    out.write(mask_text(text, extra=secrets) + "\n")
    return 0
