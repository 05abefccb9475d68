"""``prodcheck tls check``: every TLS, certificate and HTTP hardening check against one site.

    $ prodcheck tls list                     # the checks: id, shared input, checklist items
    $ prodcheck tls check https://shop.example.com
    $ prodcheck tls check https://shop.test:8443 --http-url http://shop.test:8080 \\
          --resolve shop.test:8443:127.0.0.1 --resolve www.shop.test:8443:127.0.0.1 \\
          --ca-bundle ca.pem --name www.shop.test --name api.shop.test --json
    {"schema_version": 1, "target": "https://shop.test:8443", "checks": [{"id": "tls.protocols", ...}]}

``--http-url`` says where plain HTTP is served (default: port 80 of the same host); ``--resolve``
connects to ADDR for HOST:PORT while sending HOST (curl style, repeatable; ``'*.shop.test:*:ADDR'``
covers every name and port). The names checked are the suite's: ``[site]`` www/api/monitoring,
else ``www.``/``api.``/``monitoring.<apex>`` (``www = ""`` for none); ``--name`` adds more.
Thresholds come from ``prodcheck.toml`` / ``--set tls.min_days=30``. Exit codes: 0 no check
failed, 1 a check failed, 2 usage or configuration error, 3 the site is unreachable or a check
could not run. ``tls list`` prints the table of :mod:`pytest_prodcheck.probes.site_checks`
(``--json``: one object).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pytest_prodcheck.commands._common import add_config_args, settings_from_args
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.core.secrets import mask_dsn, mask_text
from pytest_prodcheck.probes.site_checks import SITE_CHECKS
from pytest_prodcheck.probes.tls.target import SiteTarget
from pytest_prodcheck.probes.tls_site import SiteReport, run_site_checks
from pytest_prodcheck.stack.external import external_endpoints


def register(subparsers: Any) -> None:
    """Add ``prodcheck tls check`` to the CLI."""
    parser = subparsers.add_parser(
        "tls",
        help="TLS, certificate and HTTP hardening checks of a site",
        description="TLS, certificate and HTTP hardening checks (the guide's SSL/TLS + Nginx).",
    )
    sub = parser.add_subparsers(dest="tls_command", metavar="COMMAND")
    sub.required = True
    check = sub.add_parser(
        "check",
        help="run every check against one site",
        description="Run every TLS/certificate/HTTP check against one site "
        "(exit 0 ok, 1 a check failed, 2 usage, 3 unreachable).",
    )
    check.add_argument("url", metavar="URL", help="the site's https:// base URL")
    check.add_argument(
        "--http-url",
        dest="http_url",
        metavar="URL",
        help="where plain HTTP is served (default: port 80)",
    )
    check.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR",
        help="connect to ADDR for HOST:PORT, like curl --resolve (repeatable)",
    )
    check.add_argument(
        "--ca-bundle",
        dest="ca_bundle",
        metavar="PATH",
        help="trust anchors (default: system store)",
    )
    check.add_argument(
        "--name",
        dest="names",
        action="append",
        default=[],
        metavar="HOST",
        help="another host name the certificate must cover (repeatable)",
    )
    check.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_args(check)
    check.set_defaults(func=run)
    listing = sub.add_parser(
        "list",
        help="list the checks",
        description="List every check `tls check` runs: id, shared input, checklist items.",
    )
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(func=run_list)


def target_from_args(args: argparse.Namespace) -> SiteTarget:
    """The site to check: CLI arguments first, then ``prodcheck.toml`` (ConfigError on bad input).

    The names are the suite's (:func:`~pytest_prodcheck.stack.external.external_endpoints`):
    ``[site]`` www/api/monitoring, else ``www.``/``api.``/``monitoring.`` + apex (``""`` = none),
    plus every ``--name``.
    """
    settings = settings_from_args(args)  # url, http_url, resolve, ca_bundle from the arguments
    endpoints = external_endpoints(settings)
    return SiteTarget.from_endpoints(endpoints, settings, extra_names=args.names)


_LABEL = {"pass": "PASS", "fail": "FAIL", "n/a": "N/A ", "error": "ERR "}


def format_text(report: SiteReport) -> str:
    width = max((len(c.id) for c in report.checks), default=10)
    lines = [f"prodcheck tls check {report.target}  ({report.duration_s:.1f} s)"]
    for c in report.checks:
        lines.append(f"{_LABEL[c.status]}  {c.id:<{width}}  {_summary(c)}")
    counts = {
        s: sum(c.status == s for c in report.checks) for s in ("pass", "fail", "n/a", "error")
    }
    lines.append(
        f"{counts['pass']} passed, {counts['fail']} failed, {counts['n/a']} n/a, {counts['error']} errors"
    )
    return "\n".join(lines)


def _summary(c: CheckResult) -> str:
    if c.status == "pass":
        return c.observed
    if c.status == "n/a":
        return c.message
    if c.status == "error":
        return f"could not run: {c.message}"
    return f"{c.message} (observed: {c.observed}; expected: {c.expected})"


def run(args: argparse.Namespace) -> int:
    target = target_from_args(args)
    report = run_site_checks(target)
    report = SiteReport(mask_dsn(report.target), report.checks, report.duration_s)
    out = json.dumps(report.to_dict(), ensure_ascii=False) if args.json else format_text(report)
    sys.stdout.write(mask_text(out) + "\n")
    return report.exit_code


def format_list() -> str:
    """One line per row of the table: id, group, title, checklist items."""
    width = max(len(s.id) for s in SITE_CHECKS)
    lines = [
        f"{s.id:<{width}}  {s.group:<10}  {s.title}"
        + (f"  [{', '.join(s.items)}]" if s.items else "")
        for s in SITE_CHECKS
    ]
    return "\n".join([*lines, f"{len(SITE_CHECKS)} checks"])


def run_list(args: argparse.Namespace) -> int:
    if args.json:
        rows = [
            {
                "id": s.id,
                "group": s.group,
                "title": s.title,
                "checklist": list(s.items),
                "markers": list(s.markers),
            }
            for s in SITE_CHECKS
        ]
        out = json.dumps({"schema_version": 1, "checks": rows}, ensure_ascii=False)
    else:
        out = format_list()
    sys.stdout.write(out + "\n")
    return 0
