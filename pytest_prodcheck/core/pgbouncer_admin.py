"""A client for PgBouncer's admin console (database ``pgbouncer``): ``SHOW`` commands as tables.

    >>> with AdminConsole("postgresql://pgb_admin:pw@127.0.0.1:6432/pgbouncer") as console:
    ...     console.show("POOLS").dicts()[0]["pool_mode"]
    ...     console.config()["pool_mode"], console.version()
    'transaction'
    ('transaction', 'PgBouncer 1.18.0')

The admin console speaks only the simple query protocol and refuses ``BEGIN``: connections are
autocommit and commands are sent without parameters. Used by the checks (``probes/``), the
exporter (``monitoring/``), ``doctor`` and the CLI alike; it judges nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import psycopg

from pytest_prodcheck.core.dsn import Dsn, connect_error, first_line
from pytest_prodcheck.core.errors import ConfigError, ToolError

__all__ = ["AdminConsole", "Table"]


@dataclass(frozen=True)
class Table:
    """Rows of one ``SHOW`` command, all values as text (``None`` for SQL NULL).

    >>> t = Table(("database", "cl_active"), (("ecommerce", "3"),))
    >>> t.dicts()
    [{'database': 'ecommerce', 'cl_active': '3'}]
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[str | None, ...], ...]

    def dicts(self) -> list[dict[str, str | None]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def render(self) -> str:
        """An aligned plain-text table, numbers right-aligned, as psql prints it."""
        cells = [[("" if v is None else v) for v in row] for row in self.rows]
        widths = [len(c) for c in self.columns]
        for row in cells:
            for i, value in enumerate(row):
                widths[i] = max(widths[i], len(value))
        numeric = [
            bool(cells) and all(_is_number(row[i]) or row[i] == "" for row in cells)
            for i in range(len(self.columns))
        ]

        def line(values: Sequence[str], header: bool = False) -> str:
            out = []
            for i, value in enumerate(values):
                out.append(
                    value.rjust(widths[i]) if numeric[i] and not header else value.ljust(widths[i])
                )
            return " | ".join(out).rstrip()

        parts = [line(self.columns, header=True), "-+-".join("-" * w for w in widths)]
        parts.extend(line(row) for row in cells)
        parts.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
        return "\n".join(parts)


def _is_number(value: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", value))


class AdminConsole:
    """A connection to PgBouncer's admin console (database ``pgbouncer``); ``dsn`` is a URL,
    a key=value DSN or a :class:`~pytest_prodcheck.core.dsn.Dsn`.

    >>> with AdminConsole(dsn) as console:
    ...     console.show("POOLS").dicts()[0]["pool_mode"]
    'transaction'
    """

    def __init__(self, dsn: str | Dsn, connect_timeout: float = 5.0) -> None:
        self.dsn = dsn if isinstance(dsn, Dsn) else Dsn.parse(dsn, "PgBouncer admin DSN")
        self.connect_timeout = connect_timeout
        self._conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> AdminConsole:
        dsn = self.dsn
        try:
            self._conn = psycopg.connect(
                dsn.conninfo(),
                autocommit=True,
                prepare_threshold=None,
                connect_timeout=max(1, round(self.connect_timeout)),
            )
        except psycopg.ProgrammingError as exc:
            raise ConfigError(
                f"PgBouncer admin DSN {dsn.masked()} is malformed: {dsn.mask(first_line(exc))}"
            ) from None
        except psycopg.Error as exc:
            raise connect_error(dsn, exc, "PgBouncer admin console") from None
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def show(self, what: str) -> Table:
        """Run ``SHOW <what>`` (simple protocol, no parameters) and return its rows as text."""
        if not re.fullmatch(r"[A-Za-z_]+", what):
            raise ConfigError(f"not a PgBouncer SHOW command: {what!r}")
        if self._conn is None:
            raise RuntimeError("AdminConsole used outside 'with'")
        try:
            cur = self._conn.execute(f"SHOW {what.upper()}")
            columns = tuple(d.name for d in cur.description or ())
            rows = tuple(
                tuple(None if v is None else str(v) for v in row) for row in cur.fetchall()
            )
        except psycopg.Error as exc:
            msg = self.dsn.mask(first_line(exc))
            if "unrecognized configuration parameter" in msg or "syntax error" in msg:
                raise ConfigError(
                    f"{self.dsn.masked()} is not a PgBouncer admin console ({msg}); "
                    "point admin_dsn at database 'pgbouncer' on PgBouncer's port"
                ) from None
            raise ToolError(f"PgBouncer SHOW {what.upper()} failed: {msg}") from None
        return Table(columns, rows)

    def config(self) -> dict[str, str]:
        """``SHOW CONFIG`` as ``{key: value}``."""
        return {r["key"] or "": r["value"] or "" for r in self.show("CONFIG").dicts()}

    def databases(self) -> list[dict[str, str | None]]:
        """``SHOW DATABASES`` rows (the admin pseudo-database ``pgbouncer`` left out)."""
        return [r for r in self.show("DATABASES").dicts() if r.get("name") != "pgbouncer"]

    def version(self) -> str:
        """``SHOW VERSION``, e.g. ``'PgBouncer 1.18.0'``."""
        table = self.show("VERSION")
        return table.rows[0][0] or "" if table.rows else ""
