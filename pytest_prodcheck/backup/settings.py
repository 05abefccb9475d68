"""Everything the backup tools need, resolved once from Settings (+ env) or from Endpoints.

    >>> cfg = BackupConfig.from_settings(load_settings(Path("prodcheck.toml")), os.environ)
    >>> cfg.target("main").dbname, cfg.dir, cfg.retain_days
    ('ecommerce', PosixPath('backups/databases'), 30)
    >>> BackupConfig.from_endpoints(endpoints, settings).admin.masked()
    'postgresql://postgres:***@127.0.0.1:40123/postgres'

DSNs: ``[database] dsn`` / ``ai_dsn`` / ``admin_dsn``, falling back to ``DATABASE_URL`` /
``AI_DATABASE_URL`` / ``ADMIN_DATABASE_URL``. ``[backup] pg_bindir`` names the directory of
``pg_dump``/``psql`` (default: found next to the server's version, see ``backup.dsn.find_bindir``). The admin DSN (a role allowed to create databases)
is used for restore drills and restores; without it the app DSN is tried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_prodcheck.backup.dsn import PgTarget
from pytest_prodcheck.backup.naming import Kind
from pytest_prodcheck.backup.s3 import S3Config
from pytest_prodcheck.core.errors import ConfigError

if TYPE_CHECKING:
    from pytest_prodcheck.config import Settings
    from pytest_prodcheck.stack.endpoints import Endpoints

ENV_DSN = {"main": "DATABASE_URL", "ai": "AI_DATABASE_URL", "admin": "ADMIN_DATABASE_URL"}


@dataclass(frozen=True)
class BackupConfig:
    main: PgTarget | None
    ai: PgTarget | None
    admin: PgTarget | None
    dir: Path
    retain_days: int = 30
    max_age_hours: int = 26
    schedule: str = "0 2 * * *"
    log: str = "/var/log/ecommerce_backup.log"
    s3: S3Config | None = None
    pg_bindir: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, env: Mapping[str, str]) -> BackupConfig:
        """From ``settings`` (``[database]``, ``[backup]``, ``[s3]``) and the environment's DSNs."""
        db, bk, s3 = settings.database, settings.backup, settings.s3
        return cls(
            main=_target(db.dsn, ENV_DSN["main"], "dsn", env),
            ai=_target(db.ai_dsn, ENV_DSN["ai"], "ai_dsn", env),
            admin=_target(db.admin_dsn, ENV_DSN["admin"], "admin_dsn", env),
            dir=Path(bk.dir),
            retain_days=bk.retain_days,
            max_age_hours=bk.max_age_hours,
            schedule=bk.schedule,
            log=bk.log,
            s3=S3Config(
                bucket=s3.bucket,
                endpoint_url=s3.endpoint_url or env.get("AWS_ENDPOINT_URL_S3") or None,
                region=s3.region,
                prefix=s3.prefix,
            )
            if s3.bucket  # load_settings already fell back to $AWS_BACKUP_BUCKET
            else None,
            pg_bindir=bk.pg_bindir or None,
        )

    @classmethod
    def from_endpoints(
        cls, endpoints: Endpoints, settings: Settings, backup_dir: Path | None = None
    ) -> BackupConfig:
        """From the stack's Endpoints (local/docker/external), settings filling the rest."""
        base = cls.from_settings(settings, {})
        s3cfg = None
        if endpoints.s3 is not None:
            ep = endpoints.s3
            s3cfg = S3Config(
                bucket=ep.bucket,
                endpoint_url=ep.endpoint_url,
                region=ep.region,
                prefix=ep.prefix,
                access_key_id=ep.access_key_id,
                secret_access_key=ep.secret_access_key,
            )

        def pick(dsn: str | None, fallback: PgTarget | None, source: str) -> PgTarget | None:
            return PgTarget.from_dsn(dsn, source=source) if dsn else fallback

        return cls(
            main=pick(endpoints.postgres_dsn, base.main, "Endpoints.postgres_dsn"),
            ai=pick(endpoints.postgres_ai_dsn, base.ai, "Endpoints.postgres_ai_dsn"),
            admin=pick(endpoints.postgres_admin_dsn, base.admin, "Endpoints.postgres_admin_dsn"),
            dir=backup_dir or base.dir,
            retain_days=base.retain_days,
            max_age_hours=base.max_age_hours,
            schedule=base.schedule,
            log=base.log,
            s3=s3cfg or base.s3,
            pg_bindir=endpoints.pg_bindir or base.pg_bindir,
        )

    def target(self, kind: Kind) -> PgTarget:
        """The DSN of database ``kind``; ConfigError saying where to set it when missing."""
        found = self.main if kind == "main" else self.ai
        if found is None:
            key = "dsn" if kind == "main" else "ai_dsn"
            raise ConfigError(
                f"no DSN for the {kind} database: set [database] {key} in prodcheck.toml "
                f"or export {ENV_DSN[kind]}"
            )
        return found

    def admin_for(self, kind: Kind) -> PgTarget:
        """The role that creates scratch databases: the admin DSN, else the app DSN."""
        return self.admin or self.target(kind)

    def require_s3(self) -> S3Config:
        if self.s3 is None:
            raise ConfigError("S3 is not configured: export AWS_BACKUP_BUCKET or set [s3] bucket")
        return self.s3

    def secrets(self) -> list[str]:
        out = [t.password for t in (self.main, self.ai, self.admin) if t and t.password]
        if self.s3 and self.s3.secret_access_key:
            out.append(self.s3.secret_access_key)
        return out


def _target(value: str | None, env_key: str, key: str, env: Mapping[str, str]) -> PgTarget | None:
    if value:
        return PgTarget.from_dsn(value, source=f"[database] {key}")
    if env.get(env_key):
        return PgTarget.from_dsn(env[env_key], source=env_key)
    return None


# the names the suites and commands call
backup_config = BackupConfig.from_settings
backup_config_for_stack = BackupConfig.from_endpoints
