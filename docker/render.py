"""Render the reference production configs for ``docker/compose.yml`` from the package templates.

    POSTGRES_PASSWORD=… APP_DB_PASSWORD=… PGBOUNCER_ADMIN_PASSWORD=… \\
        python docker/render.py --domain example.com [--out docker/rendered]

Writes ``nginx.conf`` and ``pgbouncer/pgbouncer.ini`` (the same templates the embedded stack
runs), ``pgbouncer/userlist.txt`` (SCRAM secrets, 0600; owned by uid 999, PgBouncer's user in the
image, when run as root) and ``initdb/10-roles.sql`` (creates the app role with the same SCRAM
secret, and the ``ecommerce`` and ``ai`` databases). Passwords come from the environment only and
never appear in clear in any rendered file.

The monitoring name is open to ``--monitoring-allow`` only (default 127.0.0.1 and 10.0.0.0/8,
e.g. a VPN). Never allow Docker's own ranges (172.16.0.0/12): behind docker-proxy every visitor
arrives from the bridge gateway, so that entry opens monitoring to the whole internet.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import sys
from dataclasses import replace
from pathlib import Path

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.stack.nginx import production_options, render_nginx_conf
from pytest_prodcheck.stack.pgbouncer import PgBouncerOptions, render_pgbouncer_ini, render_userlist
from pytest_prodcheck.stack.postgres import scram_verifier

HERE = Path(__file__).resolve().parent
PASSWORD_ENV = ("POSTGRES_PASSWORD", "APP_DB_PASSWORD", "PGBOUNCER_ADMIN_PASSWORD")
SERVICE_UID = 999  # postgres / PgBouncer in docker/postgres and docker/pgbouncer (and postgres:15)
MONITORING_ALLOW = ("127.0.0.1", "10.0.0.0/8")


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def render(
    domain: str,
    out: Path,
    env: dict[str, str],
    monitoring_allow: tuple[str, ...] = MONITORING_ALLOW,
    rate_limit_exempt: tuple[str, ...] = (),
) -> list[Path]:
    """Render every file into ``out``; return the paths written."""
    if not re.fullmatch(r"(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}", domain):
        raise ConfigError(f"--domain {domain!r}: expected a DNS name such as example.com")
    missing = [name for name in PASSWORD_ENV if not env.get(name)]
    if missing:
        raise ConfigError(
            f"set {', '.join(missing)} in the environment (passwords are never flags)"
        )
    for flag, values in (
        ("--monitoring-allow", monitoring_allow),
        ("--rate-limit-exempt", rate_limit_exempt),
    ):
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ConfigError(
                    f"{flag} {value!r}: expected an address or CIDR, e.g. 10.8.0.0/24"
                ) from None
    app_secret = scram_verifier(env["APP_DB_PASSWORD"])
    nginx = replace(
        production_options(domain),
        monitoring_allow=tuple(monitoring_allow),
        rate_limit_exempt=tuple(rate_limit_exempt),
    )
    written = {
        out / "nginx.conf": (render_nginx_conf(nginx, "/etc/nginx"), 0o644),
        out / "pgbouncer" / "pgbouncer.ini": (
            render_pgbouncer_ini(
                PgBouncerOptions(listen_addr="0.0.0.0", server_host="postgres"),
                server_port=5432,
                listen_port=6432,
                auth_file="/etc/pgbouncer/userlist.txt",
            ),
            0o644,
        ),
        out / "pgbouncer" / "userlist.txt": (
            render_userlist(
                {
                    "app": app_secret,
                    "pgb_admin": scram_verifier(env["PGBOUNCER_ADMIN_PASSWORD"]),
                }
            ),
            0o600,
        ),
        out / "initdb" / "10-roles.sql": (
            f"CREATE ROLE app LOGIN PASSWORD '{app_secret}';\n"
            "CREATE DATABASE ecommerce OWNER app;\n"
            "CREATE DATABASE ai OWNER app;\n",
            0o644,
        ),
    }
    for path, (text, mode) in written.items():
        _write(path, text, mode)
    if os.geteuid() == 0:  # PgBouncer (uid 999 in the image) reads its 0600 files itself
        for path in (out / "pgbouncer", *(out / "pgbouncer").iterdir()):
            os.chown(path, SERVICE_UID, SERVICE_UID)
    return list(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", required=True, help="apex domain, e.g. example.com")
    parser.add_argument("--out", type=Path, default=HERE / "rendered", help="output directory")
    parser.add_argument(
        "--monitoring-allow",
        action="append",
        metavar="CIDR",
        help=f"who may reach monitoring.DOMAIN (repeatable; default {' '.join(MONITORING_ALLOW)})",
    )
    parser.add_argument(
        "--rate-limit-exempt",
        action="append",
        default=[],
        metavar="CIDR",
        help="addresses never rate limited, e.g. your load generator (repeatable; default none)",
    )
    args = parser.parse_args(argv)
    try:
        allow = tuple(args.monitoring_allow or MONITORING_ALLOW)
        exempt = tuple(args.rate_limit_exempt)
        for path in render(args.domain, args.out, dict(os.environ), allow, exempt):
            print(path)
    except ConfigError as exc:
        print(f"render.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
