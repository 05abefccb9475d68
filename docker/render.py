"""Render the reference production configs for ``docker/compose.yml`` from the package templates.

    POSTGRES_PASSWORD=… APP_DB_PASSWORD=… PGBOUNCER_ADMIN_PASSWORD=… \\
        python docker/render.py --domain example.com [--out docker/rendered]

Writes ``nginx.conf`` and ``pgbouncer.ini`` (the same templates the embedded stack runs),
``userlist.txt`` (SCRAM secrets, 0600) and ``initdb/10-roles.sql`` (creates the app role with the
same SCRAM secret, and the ``ecommerce`` and ``ai`` databases). Passwords come from the environment
only and never appear in clear in any rendered file.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.stack.nginx import production_options, render_nginx_conf
from pytest_prodcheck.stack.pgbouncer import PgBouncerOptions, render_pgbouncer_ini, render_userlist
from pytest_prodcheck.stack.postgres import scram_verifier

HERE = Path(__file__).resolve().parent
PASSWORD_ENV = ("POSTGRES_PASSWORD", "APP_DB_PASSWORD", "PGBOUNCER_ADMIN_PASSWORD")


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def render(domain: str, out: Path, env: dict[str, str]) -> list[Path]:
    """Render every file into ``out``; return the paths written."""
    if not re.fullmatch(r"(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z]{2,63}", domain):
        raise ConfigError(f"--domain {domain!r}: expected a DNS name such as example.com")
    missing = [name for name in PASSWORD_ENV if not env.get(name)]
    if missing:
        raise ConfigError(
            f"set {', '.join(missing)} in the environment (passwords are never flags)"
        )
    app_secret = scram_verifier(env["APP_DB_PASSWORD"])
    written = {
        out / "nginx.conf": (render_nginx_conf(production_options(domain), "/etc/nginx"), 0o644),
        out / "pgbouncer.ini": (
            render_pgbouncer_ini(
                PgBouncerOptions(listen_addr="0.0.0.0", server_host="postgres"),
                server_port=5432,
                listen_port=6432,
                auth_file="/etc/pgbouncer/userlist.txt",
            ),
            0o644,
        ),
        out / "userlist.txt": (
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
    return list(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", required=True, help="apex domain, e.g. example.com")
    parser.add_argument("--out", type=Path, default=HERE / "rendered", help="output directory")
    args = parser.parse_args(argv)
    try:
        for path in render(args.domain, args.out, dict(os.environ)):
            print(path)
    except ConfigError as exc:
        print(f"render.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
