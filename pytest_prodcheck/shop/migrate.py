"""Create the shop's schema, indexes and seed data in both databases, idempotently.

    >>> migrate("postgresql://app:pw@127.0.0.1:5432/ecommerce",
    ...         "postgresql://app:pw@127.0.0.1:5432/ai")          # doctest: +SKIP
    MigrateResult(main_seeded=True, ai_seeded=True, seconds=0.41)
    >>> len(fingerprint())                                       # cache key of a seeded template
    16

Each database is migrated in one transaction under an advisory lock, so a second run (or two
concurrent runs) is a no-op. When run as a superuser the objects are created as the database
owner (``SET LOCAL ROLE``), so the application role can use them.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any, LiteralString

import psycopg

from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable, ToolError
from pytest_prodcheck.core.secrets import mask_dsn
from pytest_prodcheck.shop import seed
from pytest_prodcheck.shop.passwords import hash_password

_LOCK_KEY = 0x5E0F_5E0D  # pg_advisory_xact_lock key of shop migrations
SCHEMA_FILES = ("schema.sql", "schema_ai.sql")


@dataclass(frozen=True)
class MigrateResult:
    main_seeded: bool  # False when the seed of this SEED_VERSION was already there
    ai_seeded: bool
    seconds: float


def _schema(name: str) -> str:
    return resources.files("pytest_prodcheck.shop").joinpath(name).read_text("utf-8")


def fingerprint() -> str:
    """Hex digest of ``schema*.sql`` + ``SEED_VERSION``: key for a cached, seeded template."""
    digest = hashlib.sha256(f"seed-version:{seed.SEED_VERSION}\n".encode())
    for name in SCHEMA_FILES:
        digest.update(name.encode() + b"\n" + _schema(name).encode())
    return digest.hexdigest()[:16]


def _connect(dsn: str, what: str) -> psycopg.Connection[Any]:
    if not dsn.startswith(("postgresql://", "postgres://")) and "=" not in dsn:
        raise ConfigError(f"{what}: {mask_dsn(dsn)!r} is not a PostgreSQL DSN (postgresql://…)")
    try:
        return psycopg.connect(dsn, prepare_threshold=None, connect_timeout=10)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise TargetUnreachable(
            f"{what}: cannot connect to {mask_dsn(dsn)}: {reason} (is the database running?)"
        ) from None
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"{what}: invalid DSN {mask_dsn(dsn)}: {exc}") from None


def _migrate_one(
    dsn: str,
    what: str,
    schema_file: str,
    meta_table: LiteralString,
    steps: tuple[tuple[LiteralString, dict[str, Any]], ...],
    extra: dict[str, Any],
) -> bool:
    conn = _connect(dsn, what)
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            row = conn.execute(
                "SELECT r.rolsuper, pg_get_userbyid(d.datdba) FROM pg_roles r, pg_database d"
                " WHERE r.rolname = current_user AND d.datname = current_database()"
            ).fetchone()
            if row and row[0]:
                conn.execute(
                    psycopg.sql.SQL("SET LOCAL ROLE {}").format(psycopg.sql.Identifier(row[1]))
                )
            conn.execute(_schema(schema_file).encode("utf-8"))
            done = conn.execute(
                psycopg.sql.SQL("SELECT value FROM {} WHERE key = 'seed_version'").format(
                    psycopg.sql.Identifier(meta_table)
                )
            ).fetchone()
            if done and done[0] == str(seed.SEED_VERSION):
                return False
            for statement, params in steps:
                conn.execute(statement, {**params, **extra})
            conn.execute(
                psycopg.sql.SQL(
                    "INSERT INTO {} (key, value) VALUES ('seed_version', %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ).format(psycopg.sql.Identifier(meta_table)),
                [str(seed.SEED_VERSION)],
            )
            conn.execute(psycopg.sql.SQL("ANALYZE"))
        return True
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ToolError(f"{what}: migration failed on {mask_dsn(dsn)}: {first}") from None
    finally:
        conn.close()


def migrate(dsn: str, ai_dsn: str) -> MigrateResult:
    """Migrate and seed the main (``dsn``) and AI (``ai_dsn``) databases; see module doc."""
    started = time.perf_counter()
    seed_hash = hash_password(seed.SEED_PASSWORD, salt=seed.SEED_SALT)
    main = _migrate_one(
        dsn, "main database", "schema.sql", "shop_meta", seed.MAIN_SEED, {"hash": seed_hash}
    )
    ai = _migrate_one(ai_dsn, "AI database", "schema_ai.sql", "ai_meta", seed.AI_SEED, {})
    return MigrateResult(main, ai, round(time.perf_counter() - started, 3))
