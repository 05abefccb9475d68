"""PostgreSQL hygiene: default passwords, weak passwords, the app role, the path through PgBouncer,
and large tables read sequentially for lack of an index.

    >>> check_default_passwords([LoginTarget("PostgreSQL", "127.0.0.1", 5432, "ecommerce")]).status
    'pass'
    >>> check_password_strength({"[database] dsn": "postgresql://app:app@127.0.0.1:5432/ecommerce"}).status
    'fail'
    >>> check_app_role("postgresql://app:pw@127.0.0.1:5432/ecommerce", ["ecommerce", "ai"]).ok
    True
    >>> check_app_via_pgbouncer("postgresql://app:pw@127.0.0.1:5432/ecommerce", admin_dsn).message
    'the app DSN reaches PostgreSQL directly (server port 5432 = DSN port): ...'
    >>> check_seq_scans(["postgresql://app:pw@127.0.0.1:5432/ecommerce"], min_rows=10000).ok
    True

Check ids: ``postgres.default-passwords``, ``postgres.strong-passwords``,
``postgres.app-role-privileges``, ``postgres.app-via-pgbouncer``, ``postgres.seq-scans``.
Every check takes plain DSNs; none needs a superuser.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from pytest_prodcheck.core.dsn import Dsn, connect_error
from pytest_prodcheck.core.errors import TargetUnreachable
from pytest_prodcheck.core.pgbouncer_admin import AdminConsole
from pytest_prodcheck.core.result import CheckResult

__all__ = [
    "DEFAULT_PASSWORDS",
    "DEFAULT_USERS",
    "LoginTarget",
    "check_app_role",
    "check_app_via_pgbouncer",
    "check_default_passwords",
    "check_password_strength",
    "check_seq_scans",
    "dsn_parts",
    "login_target",
]

#: Well-known default/weak passwords tried against every user (plus the user name itself).
DEFAULT_PASSWORDS: tuple[str, ...] = (
    "",
    "postgres",
    "password",
    "admin",
    "changeme",
    "secret",
    "123456",
    "root",
    "pgbouncer",
)
DEFAULT_USERS: tuple[str, ...] = ("postgres", "admin")
MIN_PASSWORD_LENGTH = 12

#: Predefined roles that give an app role server-wide powers it never needs.
POWERFUL_ROLES: tuple[str, ...] = (
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
    "pg_read_all_data",
    "pg_write_all_data",
    "pg_signal_backend",
)


@dataclass(frozen=True)
class LoginTarget:
    """Where to try logins: ``name`` for messages, ``users`` to try besides the defaults."""

    name: str
    host: str
    port: int
    dbname: str
    users: tuple[str, ...] = ()


def dsn_parts(dsn: str) -> dict[str, str]:
    """The DSN's non-empty parts by libpq name (``host``, ``dbname``, ``password``, …); a
    :class:`ConfigError` line for a malformed DSN. New code: use :meth:`Dsn.parse` directly."""
    d = Dsn.parse(dsn)
    parts = {"host": d.host, "port": str(d.port), "dbname": d.dbname, "user": d.user}
    parts |= {"password": d.password, **dict(d.params)}
    return {k: v for k, v in parts.items() if v}


def login_target(name: str, dsn: str, dbname: str | None = None) -> LoginTarget:
    """A :class:`LoginTarget` for the host/port/db of ``dsn``, trying its user too."""
    d = Dsn.parse(dsn, f"{name} DSN")
    return LoginTarget(
        name,
        d.host or "127.0.0.1",
        d.port,
        dbname or d.dbname or "postgres",
        (d.user,) if d.user else (),
    )


def _mask_pw(pw: str) -> str:
    return "an empty password" if not pw else f"a well-known default password ({len(pw)} chars)"


def _try_login(t: LoginTarget, user: str, password: str, timeout: int) -> bool:
    """True if the login succeeds; False if refused; TargetUnreachable if nobody answers."""
    try:
        conn = psycopg.connect(
            host=t.host,
            port=t.port,
            dbname=t.dbname,
            user=user,
            password=password,
            connect_timeout=timeout,
            autocommit=True,
            sslmode="prefer",
        )
    except psycopg.OperationalError as exc:
        text = str(exc)
        first = text.strip().splitlines()[0] if text.strip() else "no answer"
        if 'database "' in text and "does not exist" in text:
            return True  # PostgreSQL authenticates before it looks the database up
        unreachable = (
            "Connection refused",
            "timeout expired",
            "could not translate host",
            "No route",
        )
        if any(m in text for m in unreachable):
            raise TargetUnreachable(
                f"{t.name} at {t.host}:{t.port} unreachable while testing default passwords: "
                f"{first}"
            ) from None
        return False  # authentication failed, no password supplied, no such user, no hba entry ...
    conn.close()
    return True


def check_default_passwords(
    targets: Sequence[LoginTarget],
    passwords: Iterable[str] = DEFAULT_PASSWORDS,
    users: Iterable[str] = DEFAULT_USERS,
    timeout: int = 5,
) -> CheckResult:
    """Try well-known passwords (and user = password) for each user; pass when all are refused."""
    cid = "postgres.default-passwords"
    pw_list = list(dict.fromkeys(passwords))
    accepted: list[str] = []
    tried = 0
    for t in targets:
        for user in dict.fromkeys((*users, *t.users)):
            for pw in dict.fromkeys((*pw_list, user)):
                tried += 1
                if _try_login(t, user, pw, timeout):
                    accepted.append(f"{t.name}: user {user!r} accepts {_mask_pw(pw)}")
                    break
    where = ", ".join(f"{t.name} {t.host}:{t.port}" for t in targets)
    expected = "every well-known default password refused"
    if accepted:
        return CheckResult.failed(
            cid,
            "; ".join(accepted),
            expected,
            "default or weak passwords are accepted: "
            + "; ".join(accepted)
            + "; set strong unique passwords (ALTER ROLE ... PASSWORD) and check pg_hba.conf "
            "has no 'trust'",
        )
    return CheckResult.passed(cid, f"{tried} default logins refused on {where}", expected)


def check_password_strength(
    dsns: Mapping[str, str], min_length: int = MIN_PASSWORD_LENGTH
) -> CheckResult:
    """Judge the passwords in the configured DSNs (``{config key: dsn}``) without showing them."""
    cid = "postgres.strong-passwords"
    weak: list[str] = []
    judged = []
    for key, dsn in dsns.items():
        parsed = Dsn.parse(dsn, key)
        pw, user = parsed.password, parsed.user
        judged.append(key)
        reasons = []
        if len(pw) < min_length:
            reasons.append(f"{len(pw)} chars < {min_length}")
        if pw.lower() in DEFAULT_PASSWORDS or (user and user.lower() in pw.lower()):
            reasons.append("a default or the user name")
        if pw and len(set(pw)) < 6:
            reasons.append("fewer than 6 distinct characters")
        if reasons:
            weak.append(f"{key} (user {user or '?'}): " + ", ".join(reasons))
    expected = f">= {min_length} chars, not a default, not the user name"
    if not judged:
        return CheckResult.not_applicable(cid, "no DSN with a password configured", expected)
    if weak:
        return CheckResult.failed(
            cid, "; ".join(weak), expected, "weak passwords: " + "; ".join(weak)
        )
    return CheckResult.passed(
        cid, f"{len(judged)} passwords strong ({', '.join(judged)})", expected
    )


def _connect(dsn: str | Dsn, what: str, **kwargs: Any) -> psycopg.Connection[Any]:
    parsed = dsn if isinstance(dsn, Dsn) else Dsn.parse(dsn, what)
    try:
        return psycopg.connect(
            parsed.conninfo(), connect_timeout=10, prepare_threshold=None, **kwargs
        )
    except psycopg.Error as exc:
        raise connect_error(parsed, exc, what) from None


def check_app_role(dsn: str, app_databases: Iterable[str] = ()) -> CheckResult:
    """The role of ``dsn`` (the app) must not be a superuser, hold server-wide powers, or own
    databases other than ``app_databases`` (default: the DSN's database)."""
    cid = "postgres.app-role-privileges"
    parsed = Dsn.parse(dsn, "PostgreSQL (app role)")
    allowed = set(app_databases) or {parsed.dbname}
    with _connect(parsed, "PostgreSQL (app role)", autocommit=True) as conn:
        row = conn.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
            "FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert row is not None
        role = row[0]
        flags = dict(
            zip(
                ("SUPERUSER", "CREATEROLE", "CREATEDB", "REPLICATION", "BYPASSRLS"),
                row[1:],
                strict=True,
            )
        )
        member_of = [
            r[0]
            for r in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname <> current_user "
                "AND pg_has_role(current_user, oid, 'MEMBER') AND (rolsuper OR rolname = ANY(%s))",
                [list(POWERFUL_ROLES)],
            ).fetchall()
        ]
        owned = [
            r[0]
            for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datdba = "
                "(SELECT oid FROM pg_roles WHERE rolname = current_user) ORDER BY datname"
            ).fetchall()
        ]
    problems = [f"has {name}" for name, on in flags.items() if on]
    if not flags["SUPERUSER"]:  # a superuser is implicitly a member of everything
        problems += [f"is a member of {r}" for r in member_of]
    extra = [d for d in owned if d not in allowed]
    if extra:
        problems.append(f"owns databases it does not serve: {', '.join(extra)}")
    expected = (
        "no SUPERUSER/CREATEROLE/CREATEDB/REPLICATION/BYPASSRLS, no powerful predefined roles, "
        f"owns only {', '.join(sorted(allowed))}"
    )
    observed = f"role {role}: " + (
        "; ".join(problems)
        if problems
        else f"plain login role, owns {', '.join(owned) or 'nothing'}"
    )
    if problems:
        return CheckResult.failed(
            cid,
            observed,
            expected,
            f"the app role {role} {'; '.join(problems)}: give the app a plain LOGIN role that "
            "owns only its own database (ALTER ROLE ... NOSUPERUSER NOCREATEROLE NOCREATEDB ...)",
        )
    return CheckResult.passed(cid, observed, expected)


def _local_address(conn: psycopg.Connection[Any]) -> tuple[str, int] | None:
    fd = os.dup(conn.pgconn.socket)
    try:
        with socket.socket(fileno=fd) as sock:
            name = sock.getsockname()
    except OSError:
        return None
    if isinstance(name, tuple) and len(name) >= 2:
        return str(name[0]), int(name[1])
    return None


def check_app_via_pgbouncer(app_dsn: str, pgbouncer_admin_dsn: str | None = None) -> CheckResult:
    """The app's DSN must reach PostgreSQL through PgBouncer.

    Connects with ``app_dsn``: the server reports its own port (``inet_server_port()``); a DSN port
    equal to it means a direct connection. With the admin DSN, PgBouncer's ``SHOW CLIENTS`` must
    also list this very connection.
    """
    cid = "postgres.app-via-pgbouncer"
    parsed = Dsn.parse(app_dsn, "the app's database DSN")
    dsn_port = parsed.port
    expected = "the app's DSN points at PgBouncer, which lists the connection as its client"
    # a unique application_name too: behind a NAT or docker-proxy PgBouncer sees another address
    marker = f"prodcheck-via-pgbouncer-{secrets.token_hex(4)}"
    with _connect(
        parsed, "the app's database DSN", autocommit=True, application_name=marker
    ) as conn:
        row = conn.execute("SELECT inet_server_port(), current_database()").fetchone()
        assert row is not None
        server_port, db = row
        local = _local_address(conn)
        listed: bool | None = None
        others = ""
        if pgbouncer_admin_dsn and server_port != dsn_port:
            with AdminConsole(pgbouncer_admin_dsn) as console:
                clients = console.show("CLIENTS").dicts()
            names = Counter(
                c.get("application_name") or "(no application_name)"
                for c in clients
                if c.get("database") != "pgbouncer"
            )
            others = "; PgBouncer's clients: " + (
                ", ".join(f"{n} x{k}" for n, k in sorted(names.items())) or "none"
            )
            listed = any(
                c.get("application_name") == marker
                or (
                    local is not None
                    and c.get("port") == str(local[1])
                    and c.get("addr") in (local[0], "127.0.0.1", "::1")
                )
                for c in clients
            )
    where = parsed.masked()
    if server_port == dsn_port:
        return CheckResult.failed(
            cid,
            f"{where} reaches PostgreSQL directly (server port {server_port} = DSN port)",
            expected,
            f"the app DSN reaches PostgreSQL directly (server port {server_port} = DSN port "
            f"{dsn_port}): point DATABASE_URL at PgBouncer's port (6432 in the guide)",
        )
    if listed is False:
        return CheckResult.failed(
            cid,
            f"{where} goes through a proxy on port {dsn_port} that is not this PgBouncer",
            expected,
            f"port {dsn_port} forwards to PostgreSQL but the PgBouncer admin console does not list "
            "the connection: the app DSN and [pgbouncer] admin_dsn point at different poolers",
        )
    via = "listed by PgBouncer SHOW CLIENTS" if listed else "pooler port differs from server port"
    return CheckResult.passed(
        cid, f"{where} -> PostgreSQL port {server_port}, database {db} ({via}){others}", expected
    )


def check_seq_scans(
    dsns: Sequence[str], min_rows: int = 10000, min_seq_scans: int = 5
) -> CheckResult:
    """Flag tables of at least ``min_rows`` rows read by sequential scans more often than through
    an index (``pg_stat_user_tables``: ``seq_scan > idx_scan``, ``seq_scan >= min_seq_scans``)."""
    cid = "postgres.seq-scans"
    flagged: list[str] = []
    large: list[str] = []
    for dsn in dict.fromkeys(dsns):
        with _connect(dsn, "PostgreSQL", autocommit=True) as conn:
            db = conn.execute("SELECT current_database()").fetchone()
            rows = conn.execute(
                "SELECT schemaname, relname, n_live_tup, seq_scan, coalesce(idx_scan, 0), "
                "seq_tup_read FROM pg_stat_user_tables "
                "WHERE n_live_tup >= %s ORDER BY seq_tup_read DESC",
                [min_rows],
            ).fetchall()
        dbname = db[0] if db else "?"
        for schema, rel, n, seq, idx, read in rows:
            name = f"{dbname}.{schema}.{rel}"
            large.append(name)
            if seq >= min_seq_scans and seq > idx:
                flagged.append(
                    f"{name} ({n} rows: {seq} seq scans reading {read} rows vs {idx} index scans)"
                )
    expected = f"no table with >= {min_rows} rows scanned sequentially more than through an index"
    if flagged:
        return CheckResult.failed(
            cid,
            "; ".join(flagged),
            expected,
            "large tables are read by sequential scans: "
            + "; ".join(flagged)
            + "; find the queries (pg_stat_statements, EXPLAIN) and add the missing indexes",
        )
    observed = (
        f"{len(large)} large tables, all mostly read through indexes"
        if large
        else f"no table with >= {min_rows} rows"
    )
    return CheckResult.passed(cid, observed, expected)
