"""Off-site copies in S3 (or any S3-compatible store): upload, prove identical, list.

    >>> store = S3Store(S3Config(bucket="acme-backups", endpoint_url="http://127.0.0.1:9000"))
    >>> obj = store.upload(Path("backups/databases/main_db_20250128_120000.sql.gz"))
    >>> obj.key, obj.encrypted
    ('databases/main_db_20250128_120000.sql.gz', True)
    >>> store.verify(Path("backups/databases/main_db_20250128_120000.sql.gz"), deep=True).identical
    True

Uploads use multipart above 8 MB, request ``ServerSideEncryption=AES256``, store the file's
SHA-256 as object metadata, and retry transient errors (botocore ``standard`` mode, 5 attempts).
After an upload the object is checked, not trusted: its size and the ETag the server computed
must equal what we compute locally (MD5, or the multipart MD5-of-MD5s), and ``deep=True``
downloads it and compares the SHA-256. The ``.sha256`` and manifest sidecars are uploaded too.

Retention in the bucket (the guide keeps 30 days there as well as locally):

    >>> store.lifecycle_days()            # an enabled expiration rule covering the prefix
    30
    >>> store.retention(30).action        # 'lifecycle' (the rule does it) or 'pruned'
    'lifecycle'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pytest_prodcheck.backup.manifest import utc_now
from pytest_prodcheck.backup.naming import parse_name, sidecars
from pytest_prodcheck.backup.proc import CHUNK
from pytest_prodcheck.core.errors import ConfigError, ProdcheckError, TargetUnreachable, ToolError

PART_SIZE = 8 * 1024 * 1024
META_SHA = "sha256"
_DENIED = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AllAccessDisabled",
    "403",
}


@dataclass(frozen=True)
class S3Config:
    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    prefix: str = "databases/"
    access_key_id: str | None = None
    secret_access_key: str | None = None

    @property
    def where(self) -> str:
        host = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"s3://{self.bucket}/{self.prefix}{host}"


@dataclass(frozen=True)
class S3Object:
    key: str
    size_bytes: int
    etag: str
    sha256: str | None
    encrypted: bool


@dataclass(frozen=True)
class S3Retention:
    """What ``--retain DAYS`` did in the bucket: a lifecycle rule covers it, or we pruned."""

    retain_days: int
    action: str  # "lifecycle" | "pruned"
    rule_days: int | None  # the covering lifecycle rule's expiration (days)
    deleted: tuple[str, ...]  # keys deleted by the prune (backups and their sidecars)
    kept_newest: tuple[str, ...]  # older than the cutoff but the newest backup of its kind


@dataclass(frozen=True)
class RemoteCheck:
    key: str
    present: bool
    identical: bool
    detail: str


def local_etag(path: Path, part_size: int = PART_SIZE) -> str:
    """The ETag S3 computes for ``path`` uploaded with ``part_size`` parts (SSE-S3/none)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size < part_size:
            return hashlib.md5(fh.read(), usedforsecurity=False).hexdigest()
        digests = []
        while part := fh.read(part_size):
            digests.append(hashlib.md5(part, usedforsecurity=False).digest())
    joined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
    return f"{joined}-{len(digests)}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def s3_client(
    config: S3Config, *, attempts: int, connect_timeout: float, read_timeout: float
) -> Any:
    """A boto3 S3 client for ``config`` (path-style addressing for a custom endpoint).

    A session of its own: credentials are read from ``config``/the environment now, never from
    what boto3's default session cached for an earlier client of this process.
    """
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret_access_key,
        config=Config(
            retries={"max_attempts": attempts, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            s3={"addressing_style": "path"} if config.endpoint_url else {},
        ),
    )


def s3_error(
    exc: BaseException,
    action: str,
    where: str,
    bucket: str | None,
    *,
    noun: str = "S3",
    missing_bucket: bool = True,
) -> ProdcheckError:
    """The one-line error for a botocore failure to ``action`` at ``where`` (``s3://b/p at URL``).

        >>> s3_error(exc, "upload", store.config.where, "acme-backups")      # backups
        ConfigError("S3 denied upload on s3://acme-backups/databases/ (AccessDenied: …): …")
        >>> s3_error(exc, "write", where, "acme-backups", noun="the history bucket")

    Missing credentials and denials are :class:`ConfigError`, an unreachable endpoint
    :class:`TargetUnreachable`, the rest :class:`ToolError`; ``missing_bucket=False`` when a 404
    may mean a missing object. Errors wrapped by boto3's transfer layer are unwrapped first.
    """
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    inner: BaseException | None = exc  # upload_file wraps ClientError in S3UploadFailedError
    while inner is not None and not isinstance(inner, ClientError | EndpointConnectionError):
        inner = inner.__cause__ or inner.__context__
    if isinstance(inner, Exception):
        exc = inner
    place = where if noun == "S3" else f"{noun} {where}"
    if isinstance(exc, NoCredentialsError):
        return ConfigError(
            f"no AWS credentials for {place}: run `aws configure` or export "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, EndpointConnectionError | BotoConnectionError):
        return TargetUnreachable(f"cannot reach {noun} {where} to {action}")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        msg = str(exc.response.get("Error", {}).get("Message", "")) or code
        if code in _DENIED:
            return ConfigError(
                f"S3 denied {action} on {place} ({code}: {msg}): check the credentials "
                "and the bucket policy"
            )
        if code in ("NoSuchBucket", "404") and missing_bucket:
            what = "S3 bucket" if noun == "S3" else noun
            return ConfigError(
                f"{what} {bucket!r} does not exist ({where}): create it or set [s3] bucket"
            )
        return ToolError(f"S3 {action} on {place} failed ({code}: {msg})")
    return ToolError(f"S3 {action} on {place} failed: {exc}")


class S3Store:
    """One bucket/prefix; every botocore error becomes a one-line ProdcheckError."""

    def __init__(self, config: S3Config, client: Any = None) -> None:
        if not config.bucket:
            raise ConfigError(
                "no S3 bucket configured: export AWS_BACKUP_BUCKET or set [s3] bucket"
            )
        self.config = config
        self._client = client

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(self.config, attempts=5, connect_timeout=5, read_timeout=60)
        return self._client

    def key(self, path: Path) -> str:
        return f"{self.config.prefix}{path.name}"

    def _error(self, exc: Exception, action: str) -> ProdcheckError:
        # a read of a missing object answers 404 too: only other actions mean "no such bucket"
        return s3_error(exc, action, self.config.where, self.config.bucket,
                        missing_bucket=action != "read")  # fmt: skip

    # -- operations -----------------------------------------------------------------------------
    def upload(self, path: Path, *, verify: bool = True) -> S3Object:
        """Upload ``path`` and its sidecars; check the stored object unless ``verify=False``."""
        from boto3.s3.transfer import TransferConfig

        sha = file_sha256(path)
        transfer = TransferConfig(
            multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=4
        )
        extra = {"ServerSideEncryption": "AES256", "Metadata": {META_SHA: sha}}
        try:
            self.client.upload_file(
                str(path), self.config.bucket, self.key(path), ExtraArgs=extra, Config=transfer
            )
            for side in sidecars(path):
                if side.is_file():
                    self.client.upload_file(
                        str(side),
                        self.config.bucket,
                        self.key(side),
                        ExtraArgs={"ServerSideEncryption": "AES256"},
                    )
        except Exception as exc:
            raise self._error(exc, "upload") from exc
        obj = self.head(path)
        if obj is None:
            raise ToolError(f"{self.key(path)} is missing from {self.config.where} after upload")
        if verify:
            check = self.verify(path, local_sha=sha)
            if not check.identical:
                raise ToolError(f"uploaded copy of {path.name} is not identical: {check.detail}")
        return obj

    def head(self, path: Path) -> S3Object | None:
        """The stored object for ``path`` (None when absent)."""
        from botocore.exceptions import ClientError

        key = self.key(path)
        try:
            resp = self.client.head_object(Bucket=self.config.bucket, Key=key)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error(exc, "read") from exc
        except Exception as exc:
            raise self._error(exc, "read") from exc
        return S3Object(
            key=key,
            size_bytes=int(resp.get("ContentLength", 0)),
            etag=str(resp.get("ETag", "")).strip('"'),
            sha256=(resp.get("Metadata") or {}).get(META_SHA),
            encrypted=resp.get("ServerSideEncryption") in ("AES256", "aws:kms", "aws:kms:dsse"),
        )

    def verify(
        self, path: Path, *, deep: bool = False, local_sha: str | None = None
    ) -> RemoteCheck:
        """Is the stored copy of ``path`` present and byte-identical? (``deep`` downloads it)."""
        key = self.key(path)
        obj = self.head(path)
        if obj is None:
            return RemoteCheck(key, False, False, f"{key} not found in {self.config.where}")
        size = path.stat().st_size
        if obj.size_bytes != size:
            return RemoteCheck(key, True, False, f"size {obj.size_bytes} B, local {size} B")
        sha = local_sha or file_sha256(path)
        if obj.sha256 is not None and obj.sha256 != sha:
            return RemoteCheck(key, True, False, "sha256 metadata differs from the local file")
        etag = local_etag(path)
        if obj.etag != etag:
            return RemoteCheck(key, True, False, f"ETag {obj.etag} != local {etag}")
        if deep:
            try:
                body = self.client.get_object(Bucket=self.config.bucket, Key=key)["Body"]
                digest = hashlib.sha256()
                for chunk in body.iter_chunks(CHUNK):
                    digest.update(chunk)
            except Exception as exc:
                raise self._error(exc, "download") from exc
            if digest.hexdigest() != sha:
                return RemoteCheck(key, True, False, "downloaded copy's SHA-256 differs")
        how = "size, ETag and downloaded SHA-256" if deep else "size, ETag and SHA-256 metadata"
        return RemoteCheck(key, True, True, f"{how} match")

    def list(self) -> list[S3Object]:
        """Backup objects under the prefix (naming scheme only), oldest first."""
        out: list[S3Object] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.config.bucket, Prefix=self.config.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    name = str(item["Key"])[len(self.config.prefix) :]
                    if parse_name(name) is None:
                        continue
                    out.append(
                        S3Object(
                            key=str(item["Key"]),
                            size_bytes=int(item.get("Size", 0)),
                            etag=str(item.get("ETag", "")).strip('"'),
                            sha256=None,
                            encrypted=False,
                        )
                    )
        except Exception as exc:
            raise self._error(exc, "list") from exc
        out.sort(key=lambda o: o.key)
        return out

    # -- retention ------------------------------------------------------------------------------
    def lifecycle_days(self) -> int | None:
        """Days after which an enabled lifecycle rule expires every object under the prefix
        (the shortest such rule), None when no rule does."""
        from botocore.exceptions import ClientError

        try:
            rules = self.client.get_bucket_lifecycle_configuration(Bucket=self.config.bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchLifecycleConfiguration":
                return None
            raise self._error(exc, "read the lifecycle rules") from exc
        except Exception as exc:
            raise self._error(exc, "read the lifecycle rules") from exc
        days: list[int] = []
        for rule in rules.get("Rules", []):
            prefix = rule.get("Prefix")
            if prefix is None:
                flt = rule.get("Filter") or {}
                prefix = flt.get("Prefix", "" if not flt else None)
            expiration = (rule.get("Expiration") or {}).get("Days")
            if rule.get("Status") != "Enabled" or prefix is None or expiration is None:
                continue
            if self.config.prefix.startswith(prefix):
                days.append(int(expiration))
        return min(days) if days else None

    def prune(self, retain_days: int, now: datetime | None = None) -> S3Retention:
        """Delete the copies (and sidecars) older than ``retain_days``, keeping the newest
        backup of each kind whatever its age."""
        cutoff = (now or utc_now()) - timedelta(days=retain_days)
        newest: dict[str, str] = {}
        old: list[str] = []
        for obj in self.list():
            parsed = parse_name(obj.key[len(self.config.prefix) :])
            if parsed is None:
                continue
            kind, created = parsed
            newest[kind] = obj.key  # list() is sorted by key: name order is time order per kind
            if created < cutoff:
                old.append(obj.key)
        guard = set(newest.values())
        deleted: list[str] = []
        try:
            for key in old:
                if key in guard:
                    continue
                for k in (key, *(str(side) for side in sidecars(Path(key)))):
                    self.client.delete_object(Bucket=self.config.bucket, Key=k)
                deleted.append(key)
        except Exception as exc:
            raise self._error(exc, "delete old copies") from exc
        kept = tuple(k for k in old if k in guard)
        return S3Retention(retain_days, "pruned", None, tuple(deleted), kept)

    def retention(self, retain_days: int, now: datetime | None = None) -> S3Retention:
        """Keep ``retain_days`` in the bucket: verified to be done by a lifecycle rule that
        expires the prefix within ``retain_days``, otherwise done now by :meth:`prune`."""
        days = self.lifecycle_days()
        if days is not None and days <= retain_days:
            return S3Retention(retain_days, "lifecycle", days, (), ())
        result = self.prune(retain_days, now)
        return S3Retention(retain_days, "pruned", days, result.deleted, result.kept_newest)
