"""One PostgreSQL DSN type: parse a URL or key=value DSN once, hand out each form it is used in.

    >>> d = Dsn.parse("postgresql://app:s3cret@127.0.0.1:6432/ecommerce?sslmode=disable")
    >>> d.host, d.port, d.dbname, d.user, d.params
    ('127.0.0.1', 6432, 'ecommerce', 'app', (('sslmode', 'disable'),))
    >>> d                                 # repr and str never show the password
    Dsn('postgresql://app:***@127.0.0.1:6432/ecommerce?sslmode=disable')
    >>> Dsn.parse("host=127.0.0.1 port=6432 dbname=ecommerce user=app password=s3cret "
    ...           "sslmode=disable") == d                     # the key=value form, same DSN
    True
    >>> d.with_database("ai").masked()
    'postgresql://app:***@127.0.0.1:6432/ai?sslmode=disable'
    >>> psycopg.connect(d.conninfo())      # doctest: +SKIP
    >>> subprocess.run(["psql"], env={**os.environ, **d.libpq_env()})   # doctest: +SKIP

Parsing is libpq's own (``psycopg.conninfo.conninfo_to_dict``), so whatever psycopg and the
PostgreSQL tools accept is accepted here, in both forms; a bad DSN raises one-line
:class:`~pytest_prodcheck.core.errors.ConfigError` naming where it came from (``source``) and
never the password. :func:`connect_error` turns a failed ``psycopg.connect`` into the same kind
of line; :func:`dsn_password` finds a password for masking without raising.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlencode

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable
from pytest_prodcheck.core.secrets import MASK, mask_text

__all__ = ["DEFAULT_PORT", "Dsn", "connect_error", "dsn_password", "first_line"]

DEFAULT_PORT = 5432
_FORMS = "use postgresql://USER:PASSWORD@HOST:PORT/DB or 'host=HOST port=PORT dbname=DB user=USER'"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
#: libpq options that hold a secret besides ``password`` (masked like it).
_SECRET_PARAMS = frozenset({"sslpassword"})
#: libpq environment variables for the options that have one (libpq docs, "Environment Variables").
_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "sslmode": "PGSSLMODE",
    "requiressl": "PGREQUIRESSL",
    "sslnegotiation": "PGSSLNEGOTIATION",
    "sslcompression": "PGSSLCOMPRESSION",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL",
    "sslcrldir": "PGSSLCRLDIR",
    "sslsni": "PGSSLSNI",
    "requirepeer": "PGREQUIREPEER",
    "require_auth": "PGREQUIREAUTH",
    "channel_binding": "PGCHANNELBINDING",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "gssencmode": "PGGSSENCMODE",
    "krbsrvname": "PGKRBSRVNAME",
    "gsslib": "PGGSSLIB",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "client_encoding": "PGCLIENTENCODING",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "load_balance_hosts": "PGLOADBALANCEHOSTS",
}


def _shown(text: str) -> str:
    """``text`` fit for an error message: URL and ``password=`` secrets masked."""
    return mask_text(text)


def _syntax(message: str) -> str:
    """A safe summary of libpq's parse error (its own text may quote the whole DSN)."""
    option = re.search(
        r'(?:invalid connection option|invalid URI query parameter:?) "(\w+)"', message
    )
    if option:
        return f'unknown option "{option[1]}"'
    for marker, summary in (
        ('missing "="', "expected a URL or key=value pairs"),
        ("unterminated quoted string", "unterminated quoted string"),
        ("IPv6", "unterminated [IPv6] host"),
        ("percent", "invalid %-escape"),
    ):
        if marker in message:
            return summary
    return "not a DSN"


@dataclass(frozen=True, repr=False)
class Dsn:
    """A parsed PostgreSQL DSN. ``host`` "" is libpq's default (the local socket); ``source``
    names where the DSN came from (``[database] dsn``, ``--admin-dsn``) for error messages."""

    host: str = ""
    port: int = DEFAULT_PORT
    dbname: str = ""
    user: str = ""
    password: str = ""
    params: tuple[tuple[str, str], ...] = ()
    source: str = field(default="DSN", compare=False)

    @classmethod
    def parse(
        cls,
        text: str,
        source: str = "DSN",
        *,
        require_host: bool = False,
        require_database: bool = False,
    ) -> Dsn:
        """Parse a URL (``postgresql://`` or ``postgres://``) or key=value DSN.

        >>> Dsn.parse("postgresql://a:pw@h:99999/db", "[database] dsn")
        Traceback (most recent call last):
        ConfigError: [database] dsn = 'postgresql://a:***@h:99999/db' is malformed: invalid port ...
        """
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{source} is empty: {_FORMS}")
        text = text.strip()
        scheme = _SCHEME.match(text)
        if scheme and scheme[1] not in ("postgresql", "postgres"):
            raise ConfigError(
                f"{source} = {_shown(text)!r} is not a postgresql:// URL: "
                "use postgresql://USER:PASSWORD@HOST:PORT/DB"
            )
        try:
            parts = {k: str(v) for k, v in conninfo_to_dict(text).items() if v is not None}
        except psycopg.ProgrammingError as exc:
            raise ConfigError(
                f"{source} = {_shown(text)!r} is malformed ({_syntax(str(exc))}): {_FORMS}"
            ) from None
        password = parts.pop("password", "")
        shown = mask_text(_shown(text), extra=[password])
        port_text = parts.pop("port", "")
        if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
            raise ConfigError(
                f"{source} = {shown!r} is malformed: invalid port "
                f"{mask_text(port_text, extra=[password])!r}, give one numeric port (e.g. 5432)"
            )
        dsn = cls(
            host=parts.pop("host", ""),
            port=int(port_text) if port_text else DEFAULT_PORT,
            dbname=parts.pop("dbname", ""),
            user=parts.pop("user", ""),
            password=password,
            params=tuple(parts.items()),
            source=source,
        )
        if require_host and not dsn.host:
            raise ConfigError(f"{source} = {shown!r} names no host: add @HOST (or host=HOST)")
        if require_database and not dsn.dbname:
            raise ConfigError(
                f"{source} = {shown!r} names no database: add /DBNAME (or dbname=DBNAME)"
            )
        return dsn

    # -- variants ---------------------------------------------------------------------------------
    def with_database(self, name: str) -> Dsn:
        """The same server and credentials, another database."""
        return replace(self, dbname=name)

    def with_user(self, user: str, password: str | None = None) -> Dsn:
        """Another role on the same server (its password, or none)."""
        return replace(self, user=user, password=password or "")

    # -- forms ------------------------------------------------------------------------------------
    def conninfo(self) -> str:
        """key=value form with the password, for ``psycopg.connect``: never print it."""
        return make_conninfo("", **self._options(secrets=True))

    def url(self, *, password: bool = True) -> str:
        """``postgresql://user:pw@host:port/db?opt=v``, percent-quoted; ``password=False`` leaves
        the password out (for a child's argv, the password then comes from :meth:`libpq_env`)."""
        return self._url(self.password if password else "", self.params)

    def masked(self) -> str:
        """The URL with ``***`` for the password (and any ``sslpassword``): safe to print."""
        params = tuple((k, MASK if k in _SECRET_PARAMS else v) for k, v in self.params)
        return self._url(MASK if self.password else "", params)

    def libpq_env(self) -> dict[str, str]:
        """``PGHOST``, ``PGPORT``, ``PGDATABASE``, ``PGUSER``, ``PGPASSWORD``, … for a child process
        (libpq reads them; nothing is written to disk). Options without a variable are left out."""
        return {_ENV[k]: v for k, v in self._options(secrets=True).items() if k in _ENV}

    @property
    def address(self) -> str:
        """``host:port`` for messages."""
        return f"{self.host}:{self.port}"

    def mask(self, text: str) -> str:
        """``text`` with this DSN's password (and any URL or ``password=`` secret) masked."""
        extra = [self.password, quote(self.password, safe="")]
        extra += [v for k, v in self.params if k in _SECRET_PARAMS]
        return mask_text(text, extra=extra)

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.masked()!r})"

    def _options(self, *, secrets: bool) -> dict[str, str]:
        options = {"host": self.host, "port": str(self.port), "dbname": self.dbname}
        options |= {"user": self.user, "password": self.password if secrets else ""}
        options |= dict(self.params)
        return {k: v for k, v in options.items() if v}

    def _url(self, password: str, params: tuple[tuple[str, str], ...]) -> str:
        cred = quote(self.user, safe="")
        if password:
            cred += ":" + (password if password == MASK else quote(password, safe=""))
        host = f"[{self.host}]" if ":" in self.host else quote(self.host, safe="")
        query = f"?{urlencode(params, safe=MASK)}" if params else ""
        at = "@" if cred else ""
        return f"postgresql://{cred}{at}{host}:{self.port}/{quote(self.dbname, safe='')}{query}"


def dsn_password(text: str) -> str | None:
    """The password in a DSN (URL or key=value) for masking; None if it has none or is malformed.

    >>> dsn_password("postgresql://app:s3cret@127.0.0.1:6432/ecommerce")
    's3cret'
    """
    try:
        value = conninfo_to_dict(text).get("password")
    except psycopg.ProgrammingError:
        return None
    return None if value is None else str(value)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (psycopg errors carry DETAIL/HINT lines)."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


_AUTH_MARKERS = (
    "authentication failed",
    "no such user",
    "not allowed",
    "no password supplied",
    "no pg_hba.conf entry",
)
_DB_MARKERS = ("no such database", "does not exist")
_DSN_MARKERS = ("for connection option", "invalid connection option", "invalid sslmode")


def connect_error(dsn: str | Dsn, exc: BaseException, what: str) -> TargetUnreachable | ConfigError:
    """Turn a psycopg connection failure into one masked line that says what to do.

    >>> connect_error(dsn, exc, "PostgreSQL (app role)")     # doctest: +SKIP
    TargetUnreachable('PostgreSQL (app role) postgresql://app:***@…:5432/db unreachable: …')
    """
    if isinstance(dsn, Dsn):
        secrets, where = [dsn.password], dsn.masked()
    else:
        secrets = [dsn_password(dsn) or ""]
        where = mask_text(_shown(dsn), extra=secrets)
    detail = mask_text(first_line(exc), extra=secrets)
    if any(marker in detail for marker in _DSN_MARKERS):
        return ConfigError(f"{what} DSN {where} is malformed: {detail}")
    if any(marker in detail for marker in _AUTH_MARKERS):
        return ConfigError(f"{what} {where}: {detail}; check the user and password")
    if any(marker in detail for marker in _DB_MARKERS):
        return ConfigError(f"{what} {where}: {detail}; check the database name in the DSN")
    return TargetUnreachable(
        f"{what} {where} unreachable: {detail}; is it running and is the DSN right?"
    )
