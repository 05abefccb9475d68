"""``prodcheck doctor``: the guide's troubleshooting steps against the configured target.

    $ prodcheck doctor --config prodcheck.toml
    ✓ dns shop.example.com: 203.0.113.10
    ✗ database (via pgbouncer): … unreachable: connection refused; is it running and is the DSN right?
        fix: check PgBouncer runs and its [databases] entry points at PostgreSQL (its log says why)

Exit 0 when every step passed, 1 when one failed, 2 on a configuration error (one line on
stderr). ``--json`` prints one object ``{"ok": …, "findings": [{step, ok, detail, fix}]}``. DSN
passwords are masked in every finding. On the local target the embedded stack is started for
the diagnosis and stopped afterwards.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from pytest_prodcheck.commands._common import add_config_args, settings_from_args


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="run the troubleshooting steps (DNS, ports, certificate, databases, backups, ACME)",
    )
    add_config_args(parser)
    parser.add_argument("--url", help="the site's base URL (implies --target external)")
    parser.add_argument("--json", action="store_true", help="print the findings as one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pytest_prodcheck.doctor import diagnose
    from pytest_prodcheck.stack.provider import open_stack

    settings = settings_from_args(args)
    findings = []
    with open_stack(settings) as endpoints:
        for finding in diagnose(endpoints, settings):
            findings.append(finding)
            if not args.json:
                print(finding.line(), flush=True)
    failed = [f for f in findings if not f.ok]
    if args.json:
        print(json.dumps({"ok": not failed, "findings": [asdict(f) for f in findings]}))
    else:
        print(f"\n{len(findings) - len(failed)} ok, {len(failed)} to fix")
    return 1 if failed else 0
