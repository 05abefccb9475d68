"""The history in an S3 bucket (the backups' bucket and credentials, its own prefix).

    >>> store = S3HistoryStore(S3Config(bucket="acme-backups", endpoint_url="http://127.0.0.1:9000"),
    ...                        prefix="prodcheck-history/", spool=Path("reports/history/pending"))
    >>> store.append(record)
    's3://acme-backups/prodcheck-history/20261128T120115Z-3fa9c2d1e07b.json'
    >>> store.read().records                      # bucket + anything still pending locally

Objects are written with ``If-None-Match: *`` (and unique names), so two runs never replace each
other's record. When the bucket cannot be reached the record is kept in the local ``spool``
directory (:class:`~pytest_prodcheck.history.store.DirStore`), ``append`` says so in
``self.notes`` (one line), and the next run that reaches the bucket uploads it: nothing is lost.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path
from typing import Any

from pytest_prodcheck.backup.s3 import S3Config, s3_client, s3_error
from pytest_prodcheck.core.errors import ConfigError, ProdcheckError, TargetUnreachable, ToolError
from pytest_prodcheck.history.records import HistoryRecord, RecordProblem
from pytest_prodcheck.history.store import (
    DirStore,
    HistoryRead,
    decode_record,
    merge,
    record_name,
    stamp_of,
)

__all__ = ["S3HistoryStore"]


class S3HistoryStore:
    """Records as ``s3://<bucket>/<prefix><run id>.json``, with a local spool for outages."""

    def __init__(
        self,
        config: S3Config,
        *,
        prefix: str = "prodcheck-history/",
        spool: Path,
        client: Any = None,
    ) -> None:
        if not config.bucket:
            raise ConfigError(
                "[history] s3 = true but no S3 bucket is configured: set [s3] bucket "
                "or export AWS_BACKUP_BUCKET"
            )
        self.config = config
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.spool = DirStore(spool)
        self.where = f"s3://{config.bucket}/{self.prefix}" + (
            f" at {config.endpoint_url}" if config.endpoint_url else ""
        )
        self.notes: list[str] = []
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:  # a run's end must not hang on a dead bucket: 2 tries, short
            self._client = s3_client(self.config, attempts=2, connect_timeout=3, read_timeout=20)
        return self._client

    def _error(self, exc: Exception, action: str) -> ProdcheckError:
        return s3_error(exc, action, self.where, self.config.bucket, noun="the history bucket")

    def _key(self, record: HistoryRecord, n: int = 1) -> str:
        return self.prefix + record_name(record, n)

    def _put(self, record: HistoryRecord, data: bytes) -> str:
        from botocore.exceptions import ClientError

        for n in range(1, 1000):
            key = self._key(record, n)
            try:
                self.client.put_object(
                    Bucket=self.config.bucket,
                    Key=key,
                    Body=data,
                    ContentType="application/json",
                    ServerSideEncryption="AES256",
                    IfNoneMatch="*",  # never replace another run's record
                )
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                    continue
                raise self._error(exc, "write") from exc
            except Exception as exc:
                raise self._error(exc, "write") from exc
            return f"s3://{self.config.bucket}/{key}"
        raise ToolError(f"no free record name for run {record.run_id} in {self.where}")

    def flush_spool(self) -> int:
        """Upload records kept locally while the bucket was unreachable; returns how many."""
        uploaded = 0
        for path in self.spool.names():
            try:
                raw = path.read_bytes()
                record = decode_record(raw, str(path))
            except (OSError, RecordProblem):
                continue  # read() reports it; never delete what we cannot upload
            self._put(record, raw)
            with contextlib.suppress(OSError):
                path.unlink()
            uploaded += 1
        return uploaded

    def append(self, record: HistoryRecord) -> str:
        """Upload ``record``; when the bucket fails, keep it in the spool (see ``notes``)."""
        data = record.to_json().encode("utf-8")
        try:
            where = self._put(record, data)
        except (TargetUnreachable, ToolError) as exc:
            kept = self.spool.append_bytes(record, data)
            self.notes.append(
                f"history: {exc}; record kept in {kept} and uploaded by the next run that "
                "reaches the bucket"
            )
            return str(kept)
        with contextlib.suppress(ProdcheckError):
            if n := self.flush_spool():
                self.notes.append(f"history: uploaded {n} record(s) kept locally earlier")
        return where

    def read(self, since: datetime | None = None) -> HistoryRead:
        """Records from the bucket plus the local spool; an unreachable bucket raises (one line)."""
        records: list[HistoryRecord] = []
        problems: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.config.bucket, Prefix=self.prefix
            )
            keys = [
                str(obj["Key"])
                for page in pages
                for obj in page.get("Contents", [])
                if str(obj["Key"]).endswith(".json")
            ]
        except Exception as exc:
            raise self._error(exc, "read") from exc
        for key in sorted(keys):
            name = key[len(self.prefix) :]
            if since is not None and (stamp_of(name) or since) < since:
                continue
            where = f"s3://{self.config.bucket}/{key}"
            try:
                body = self.client.get_object(Bucket=self.config.bucket, Key=key)["Body"]
                records.append(decode_record(body.read(), where))
            except RecordProblem as exc:
                problems.append(f"{where}: skipped: {exc}")
            except Exception as exc:
                raise self._error(exc, "read") from exc
        bucket = HistoryRead(tuple(records), tuple(problems), self.where)
        got = merge([bucket, self.spool.read(since)], self.where)
        if since is not None:
            got = HistoryRead(
                tuple(r for r in got.records if r.finished_utc >= since), got.problems, got.where
            )
        return got
