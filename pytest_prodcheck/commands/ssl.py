"""``prodcheck ssl issue|renew``: the guide's "Setup SSL Certificates" and "Automatic Renewal".

    $ prodcheck ssl issue shop.example.com admin@shop.example.com --staging
    issued shop.example.com (shop.example.com, www…, api…, monitoring…) from …staging… in 1.92 s:
      ssl/live/shop.example.com/fullchain.pem, valid until 2027-02-26; reloaded: nginx -s reload
    $ prodcheck ssl renew                 # cron: daily at 03:00
    shop.example.com: not due (83.7 of 90.0 days left (93%); renew below 33% (30.0 days))
    $ prodcheck ssl renew --dry-run       # obtain from staging (or its own CA), install nothing

Precedence: command-line option > ``[acme]`` in prodcheck.toml > default. Exit codes: 0 done,
2 bad argument or config (invalid domain, webroot not writable), 3 the CA or the reload failed
(the live certificate is then untouched).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from pytest_prodcheck.commands._common import add_config_args, settings_from_args
from pytest_prodcheck.core.errors import ConfigError

DEFAULT_WEBROOT = "/var/www/certbot"


def register(subparsers: Any) -> None:
    """Add ``ssl issue`` and ``ssl renew`` to the ``prodcheck`` parser."""
    ssl = subparsers.add_parser(
        "ssl",
        help="obtain and renew certificates over ACME (Let's Encrypt)",
        description="Obtain and renew certificates over ACME with HTTP-01 challenges.",
    )
    sub = ssl.add_subparsers(dest="ssl_command", metavar="{issue,renew}")
    sub.required = True

    issue = sub.add_parser(
        "issue",
        help="obtain a certificate for DOMAIN and its www/api/monitoring subdomains",
        description="Obtain a certificate, install it as live/DOMAIN/{fullchain,privkey}.pem "
        "(previous version kept in archive/), save how to renew it, reload the web server.",
    )
    issue.add_argument("domain", metavar="DOMAIN", help="apex domain, e.g. shop.example.com")
    issue.add_argument("email", metavar="EMAIL", help="account contact for expiry notices")
    issue.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="EXTRA",
        help="extra name (repeatable); without a dot it is a subdomain of DOMAIN",
    )
    issue.add_argument(
        "--no-default-names",
        action="store_true",
        help="do not add the www, api and monitoring subdomains",
    )
    where = issue.add_mutually_exclusive_group()
    where.add_argument("--staging", action="store_true", help="use Let's Encrypt staging")
    where.add_argument("--directory", metavar="URL", help="ACME directory URL (any ACME CA)")
    issue.add_argument(
        "--webroot",
        metavar="DIR",
        help=f"served at /.well-known/acme-challenge/ ({DEFAULT_WEBROOT})",
    )
    issue.add_argument(
        "--ca-bundle",
        dest="acme_ca_bundle",
        metavar="PATH",
        help="PEM that verifies the ACME server's certificate (private CAs, Pebble)",
    )
    issue.add_argument("--key-type", choices=("ecdsa", "rsa"), help="certificate key (ecdsa)")
    issue.add_argument("--dry-run", action="store_true", help="obtain it, install nothing")
    _add_common(issue)
    issue.set_defaults(func=run_issue)

    renew = sub.add_parser(
        "renew",
        help="renew every certificate with less than 1/3 of its lifetime left",
        description="Renew each lineage under --cert-dir whose remaining lifetime is below a "
        "third of its total, reload the web server; a failed renewal never replaces a working "
        "certificate.",
    )
    renew.add_argument("--force", action="store_true", help="renew even if not due")
    renew.add_argument(
        "--dry-run",
        action="store_true",
        help="obtain a certificate for each lineage (Let's Encrypt: from staging), install nothing",
    )
    _add_common(renew)
    renew.set_defaults(func=run_renew)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cert-dir", metavar="DIR", help="where live/, archive/, renewal/ are kept (ssl)"
    )
    parser.add_argument(
        "--reload-command",
        metavar="CMD",
        help="reloads the web server after a change ('nginx -s reload'; '' = none)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_config_args(parser)


def _settings(args: argparse.Namespace) -> Any:
    if args.config and not Path(args.config).is_file():
        raise ConfigError(f"--config {args.config}: no such file")
    return settings_from_args(args)


def _reload_command(args: argparse.Namespace, configured: str | None) -> tuple[str, ...]:
    from pytest_prodcheck.acme.reload import DEFAULT_RELOAD_COMMAND, parse_command

    if args.reload_command is not None:
        return parse_command(args.reload_command)
    if configured is not None:
        return parse_command(configured)
    return DEFAULT_RELOAD_COMMAND


def run_issue(args: argparse.Namespace) -> int:
    from pytest_prodcheck import acme

    settings = _settings(args)
    conf = settings.acme
    if args.staging:
        directory = acme.LETSENCRYPT_STAGING
    else:
        directory = args.directory or conf.directory or acme.LETSENCRYPT_PRODUCTION
    request = acme.IssueRequest.build(
        args.domain,
        args.email,
        directory=directory,
        webroot=args.webroot or conf.webroot or DEFAULT_WEBROOT,
        extra_names=args.name,
        default_subdomains=not args.no_default_names,
        key_type=args.key_type or conf.key_type,
        ca_bundle=args.acme_ca_bundle or conf.ca_bundle,
        reload_command=_reload_command(args, conf.reload_command),
    )
    store = acme.LineageStore(args.cert_dir or conf.cert_dir)
    outcome = acme.issue(request, store, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(_outcome_json(outcome), sort_keys=True))
        return 0
    verb = "obtained (dry run, nothing installed)" if outcome.dry_run else "issued"
    where = "" if outcome.dry_run else f": {outcome.fullchain_path}"
    reloaded = (
        f"; reloaded: {shlex.join(request.reload_command)}"
        if outcome.reloaded
        else ("" if outcome.dry_run else "; no reload command")
    )
    print(
        f"{verb} {outcome.domain} ({', '.join(outcome.names)}) from {outcome.directory} "
        f"in {outcome.elapsed_s:.2f} s{where}, issuer {outcome.issuer_cn!r}, "
        f"valid until {outcome.not_after:%Y-%m-%d}{reloaded}"
    )
    return 0


def run_renew(args: argparse.Namespace) -> int:
    from pytest_prodcheck import acme

    settings = _settings(args)
    store = acme.LineageStore(args.cert_dir or settings.acme.cert_dir)
    domains = store.domains()
    if not domains:
        msg = f"no certificates to renew under {store.root / 'renewal'}: use `prodcheck ssl issue`"
        if args.json:
            print(json.dumps({"renewals": [], "message": msg}))
        else:
            print(msg, file=sys.stderr)
        return 0
    override = _reload_command(args, None) if args.reload_command is not None else None
    results = acme.renew(store, force=args.force, dry_run=args.dry_run, reload_command=override)
    if args.json:
        print(json.dumps({"renewals": [_renew_json(r) for r in results]}, sort_keys=True))
    else:
        for r in results:
            label = {"not-due": "not due", "dry-run-ok": "dry run ok"}.get(r.action, r.action)
            stream = sys.stderr if r.action == "failed" else sys.stdout
            print(f"{r.domain}: {label.upper() if r.action == 'failed' else label}: {r.message}",
                  file=stream)  # fmt: skip
    codes = [r.error.exit_code for r in results if r.error is not None]
    return max(codes) if codes else 0


def _outcome_json(outcome: Any) -> dict[str, Any]:
    return {
        "domain": outcome.domain,
        "names": list(outcome.names),
        "directory": outcome.directory,
        "fullchain": str(outcome.fullchain_path) if outcome.fullchain_path else None,
        "privkey": str(outcome.privkey_path) if outcome.privkey_path else None,
        "version": outcome.version,
        "issuer": outcome.issuer_cn,
        "not_after": outcome.not_after.isoformat(),
        "elapsed_s": outcome.elapsed_s,
        "reloaded": outcome.reloaded,
        "dry_run": outcome.dry_run,
    }


def _renew_json(result: Any) -> dict[str, Any]:
    d = result.decision
    return {
        "domain": result.domain,
        "action": result.action,
        "message": result.message,
        "remaining_days": d.remaining_days if d else None,
        "lifetime_days": d.lifetime_days if d else None,
        "fraction_left": d.fraction_left if d else None,
        "outcome": _outcome_json(result.outcome) if result.outcome else None,
        "exit_code": result.error.exit_code if result.error else 0,
    }


__all__ = ["register", "run_issue", "run_renew"]
