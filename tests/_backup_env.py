"""Real PostgreSQL (+ moto S3) with seeded ``ecommerce``/``ai`` databases for the backup tests.

    env = BackupEnv.start()            # PostgreSQL from the stack's template, tables seeded
    env.main, env.ai, env.admin        # PgTarget for each database / the superuser
    env.backup_dir                     # a fresh empty dir (on tmpfs when available)
    env.snapshot("main")               # {table: (rows, md5 of the ordered content)}
    env.stop()

Not a fixture module (fixtures live in each test module); imported by tests/test_backup_*.py and
tests/test_cli_backup.py.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pytest_prodcheck.backup.dsn import PgTarget
from pytest_prodcheck.core.ports import free_port, wait_port
from pytest_prodcheck.core.proc import ManagedProcess, make_tempdir, remove_tempdir
from pytest_prodcheck.stack.postgres import PostgresServer, temporary_server
from pytest_prodcheck.stack.s3 import S3Server

MAIN_SCHEMA = r"""
CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2),
                       tags text[], meta jsonb);
CREATE TABLE orders (id bigserial PRIMARY KEY, product_id int REFERENCES products,
                     note text, created timestamptz DEFAULT '2025-01-28 12:00:00+00');
CREATE TABLE "Mixed Case" (k int);
CREATE TABLE empty_table (x int);
INSERT INTO products (name, price, tags, meta)
  SELECT 'product ' || g, g * 1.5, ARRAY['a', 'b\c'], jsonb_build_object('g', g, 'ü', 'ö')
  FROM generate_series(1, 500) g;
INSERT INTO orders (product_id, note)
  SELECT (g % 500) + 1, CASE WHEN g % 7 = 0 THEN NULL ELSE E'tab\there \\ back\nslash ' || g END
  FROM generate_series(1, {orders}) g;
INSERT INTO "Mixed Case" SELECT generate_series(1, 3);
"""
AI_SCHEMA = """
CREATE TABLE embeddings (id serial PRIMARY KEY, doc text, vec float8[]);
INSERT INTO embeddings (doc, vec) SELECT 'doc ' || g, ARRAY[g, g / 3.0] FROM generate_series(1, 200) g;
"""


@dataclass
class BackupEnv:
    server: PostgresServer
    work: Path

    @classmethod
    def start(cls, *, orders: int = 3000) -> BackupEnv:
        server = temporary_server(migrate=False)
        env = cls(server, make_tempdir("backup-test-"))
        try:
            with env.main.connect() as conn:
                conn.execute(MAIN_SCHEMA.replace("{orders}", str(orders)).encode())
            with env.ai.connect() as conn:
                conn.execute(AI_SCHEMA.encode())
        except BaseException:
            env.stop()
            raise
        return env

    @property
    def main(self) -> PgTarget:
        return PgTarget.from_dsn(self.server.dsn("ecommerce"))

    @property
    def ai(self) -> PgTarget:
        return PgTarget.from_dsn(self.server.dsn("ai"))

    @property
    def admin(self) -> PgTarget:
        return PgTarget.from_dsn(self.server.admin_dsn)

    @property
    def bindir(self) -> Path:
        return self.server.bindir

    def new_dir(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(parents=True)
        return path

    def snapshot(self, kind: str) -> dict[str, tuple[int, str]]:
        """Every user table's row count and an md5 of its ordered content."""
        target = self.main if kind == "main" else self.ai
        out: dict[str, tuple[int, str]] = {}
        with target.connect() as conn:
            tables = conn.execute(
                "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                "WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall()
            for (name,) in tables:
                row = conn.execute(
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                    f"FROM {name} t"
                ).fetchone()
                assert row is not None
                out[name] = (int(row[0]), str(row[1]))
        return out

    def databases(self) -> list[str]:
        return [str(r[0]) for r in self.server.query("SELECT datname FROM pg_database ORDER BY 1")]

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.server.destroy()
        remove_tempdir(self.work)


def start_s3() -> S3Server:
    """moto's S3 server with the stack's default bucket (stop it with :func:`stop_s3`)."""
    return S3Server(make_tempdir("backup-s3-")).start()


def stop_s3(server: S3Server) -> None:
    with contextlib.suppress(Exception):
        server.stop()
    remove_tempdir(server.workdir)


@contextlib.contextmanager
def denying_s3() -> Iterator[str]:
    """moto's S3 server with IAM enforcement on: unknown credentials get InvalidAccessKeyId.

    Yields its endpoint URL; the server is stopped on exit.
    """
    work = make_tempdir("s3-denied-")
    port = free_port()
    proc = ManagedProcess("moto_server")
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0", AWS_EC2_METADATA_DISABLED="true")
    moto = Path(sys.executable).with_name("moto_server")
    try:
        proc.start(
            [str(moto), "-H", "127.0.0.1", "-p", str(port)], env=env, log_path=work / "moto.log"
        )
        wait_port("127.0.0.1", port, 20, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()
        remove_tempdir(work)


PRODCHECK = [str(Path(sys.executable).with_name("prodcheck"))]


def cli_env(env: BackupEnv, s3: S3Server | None = None, **extra: str) -> dict[str, str]:
    """The environment for running ``prodcheck`` against ``env`` (and ``s3``): DSNs from env vars,
    nothing inherited that could point elsewhere (``PG*``, ``AWS_*``, ``PRODCHECK_*``)."""
    out = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_", "PRODCHECK_"))}
    out.update(
        DATABASE_URL=env.main.dsn,
        AI_DATABASE_URL=env.ai.dsn,
        ADMIN_DATABASE_URL=env.admin.dsn,
        AWS_EC2_METADATA_DISABLED="true",
    )
    if s3 is not None:
        out.update(
            AWS_BACKUP_BUCKET=s3.bucket,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
        )
    out.update(extra)
    return out


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``prodcheck ARGS`` as a user runs it (2 min at most)."""
    return subprocess.run(
        [*PRODCHECK, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )
