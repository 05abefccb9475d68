"""``prodcheck init URL``: write a first, commented ``prodcheck.toml`` from what the site shows.

    $ prodcheck init https://shop.example.com --resolve '*.shop.example.com:*:10.0.0.5'
    prodcheck init: certificate names shop.example.com, www.shop.example.com (www answers)
    prodcheck init: plain HTTP at http://shop.example.com (/ answered 301)
    prodcheck init: wrote prodcheck.toml; next: pytest --pyargs pytest_prodcheck.suites -m smoke

It reads the certificate's names (the ``[site]`` names that answer a TLS handshake), finds plain
HTTP (``--http-url``, else ports 80 and 8080), a static file the home page links to, and whether
the chain verifies (``--ca-bundle``, else the system store). Rate and body limits are written as
commented placeholders (the guide's numbers), DSNs as commented ``${VAR}`` lines. An existing file
is kept unless ``--force``. Exit codes: 0 written, 2 usage (bad URL, file exists), 3 unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pytest_prodcheck.config import DEFAULT_CONFIG_NAME, HttpSettings, TlsSettings
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.files import write_text_atomic
from pytest_prodcheck.probes.discover import (
    SITE_PREFIXES,
    SiteDiscovery,
    default_http_url,
    discover_site,
)

__all__ = ["register", "render_config", "run"]


def register(subparsers: Any) -> None:
    """Add ``prodcheck init`` to the CLI."""
    parser = subparsers.add_parser(
        "init",
        help="write a first prodcheck.toml from what a deployment shows",
        description="Probe a deployed site (certificate names, which answer, plain HTTP, a static "
        "file, trust) and write a commented prodcheck.toml for it.",
    )
    parser.add_argument("url", metavar="URL", help="the site's https:// base URL (the apex)")
    parser.add_argument(
        "--resolve",
        action="append",
        default=[],
        metavar="HOST:PORT:ADDR",
        help="connect to ADDR for HOST:PORT like curl --resolve; '*.example.com:*:ADDR' covers "
        "every name and port (repeatable)",
    )
    parser.add_argument("--ca-bundle", dest="ca_bundle", metavar="PATH", help="trust anchors")
    parser.add_argument(
        "--http-url",
        dest="http_url",
        metavar="URL",
        help="where plain HTTP is served (default: tried on ports 80 and 8080)",
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="PATH",
        default=DEFAULT_CONFIG_NAME,
        help=f"file to write (default ./{DEFAULT_CONFIG_NAME}; '-' prints it)",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    parser.set_defaults(func=run)


def _q(value: str) -> str:
    return json.dumps(value)  # a TOML basic string is a JSON string for what we write


def render_config(
    d: SiteDiscovery,
    *,
    resolve: list[str],
    ca_bundle: str | None,
    default_http_url: str,
) -> str:
    """The commented ``prodcheck.toml`` for discovery ``d``."""
    http, tls = HttpSettings(), TlsSettings()
    lines = [
        f"# prodcheck.toml for {d.url}, written by `prodcheck init` from what the site showed.",
        "# Run the checks:   pytest --pyargs pytest_prodcheck.suites -m smoke",
        "# Every key is optional: a check whose endpoint is missing is skipped and names the key.",
        "",
        f'url = {_q(d.url)}  # the site (apex); implies target = "external"',
    ]
    if d.http_url:
        lines.append(f"http_url = {_q(d.http_url)}  # plain HTTP: {d.http_detail}")
    else:
        lines += [
            f"# http_url = {_q(default_http_url)}  # NOT FOUND ({d.http_detail});",
            "#   set where plain HTTP answers (the HTTP->HTTPS redirect checks need it)",
        ]
    if resolve:
        lines.append(f"resolve = [{', '.join(_q(r) for r in resolve)}]  # before DNS points here")
    else:
        lines.append('# resolve = ["*.example.com:*:10.0.0.5"]  # check before DNS points here')
    if ca_bundle:
        note = "verifies the site's chain" if d.trusted else f"WARNING: the chain {d.trust_detail}"
        lines.append(f"ca_bundle = {_q(str(Path(ca_bundle).resolve()))}  # {note}")
    elif not d.trusted:
        lines.append(f'# ca_bundle = "/path/to/ca.pem"  # NEEDED: the chain {d.trust_detail}')
    lines += [
        "",
        "[site]",
        f"# certificate names: {', '.join(d.cert_names) or '(none)'}",
    ]
    for probe in d.names:
        state = "answers" if probe.answers else "does not answer"
        lines.append(f"#   {probe.name}: {state} ({probe.detail})")
    lines.append(f"apex = {_q(d.apex)}")
    for prefix in SITE_PREFIXES:
        name = d.site_name(prefix)
        if name:
            lines.append(f"{prefix} = {_q(name)}")
        else:
            lines.append(
                f'{prefix} = ""  # no {prefix}.{d.apex} that answers: its checks are not applicable'
            )
    if d.static_path:
        lines.append(f"static_path = {_q(d.static_path)}  # linked from / and answers 200")
    else:
        lines.append(
            '# static_path = "/static/app.css"  # NOT FOUND on /: set a CSS/JS file nginx serves'
        )
    lines += [
        '# api_path = "/api/products"  # a GET path of your API (rate limit, headers)',
        "",
        "[tls]",
        f"# cipher_profile = {_q(tls.cipher_profile)}  # Mozilla profile: modern | intermediate | old",
        f"# min_days = {tls.min_days}  # certificate days left before it fails",
        "",
        "[http]  # placeholders: the guide's numbers; set yours where nginx differs",
        f"# general_rate = {http.general_rate}  # req/s per client: limit_req_zone … rate=10r/s",
        f"# api_rate = {http.api_rate}  # req/s per client on the API: rate=30r/s",
        f"# body_limit_bytes = {http.body_limit_bytes}  # nginx client_max_body_size (1m)",
        "",
        "# Databases: put secrets in the environment, never in this file.",
        "# [database]",
        '# dsn = "${DATABASE_URL}"  # postgresql://app:PASSWORD@db-host:5432/shop',
        '# admin_dsn = "${DATABASE_ADMIN_URL}"',
        "# [pgbouncer]",
        '# dsn = "${PGBOUNCER_URL}"  # postgresql://app:PASSWORD@db-host:6432/shop',
        '# admin_dsn = "${PGBOUNCER_ADMIN_URL}"  # …@db-host:6432/pgbouncer (stats user)',
        "# [s3]",
        '# bucket = "${AWS_BACKUP_BUCKET}"',
        "",
    ]
    return "\n".join(lines)


def _say(message: str) -> None:
    print(f"prodcheck init: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    out = None if args.output == "-" else Path(args.output)
    if out is not None and out.exists() and not args.force:
        raise ConfigError(f"{out} exists: pass --force to replace it, or --output PATH")
    d = discover_site(
        args.url, resolve=args.resolve, ca_bundle=args.ca_bundle, http_url=args.http_url
    )
    text = render_config(
        d,
        resolve=list(args.resolve),
        ca_bundle=args.ca_bundle,
        default_http_url=default_http_url(d.url),
    )
    if out is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(out, text)
    answering = d.answering()
    _say(
        f"certificate names {', '.join(d.cert_names)}"
        + (f" ({', '.join(answering)} answer)" if answering else "")
    )
    _say(f"plain HTTP at {d.http_url} ({d.http_detail})" if d.http_url else d.http_detail)
    _say(f"chain {d.trust_detail}")
    if out is not None:
        _say(f"wrote {out}; next: pytest --pyargs pytest_prodcheck.suites -m smoke")
    return 0
