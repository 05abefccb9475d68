"""S3 copies against moto's server: multipart, checksum-verified, encrypted; faults."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.backup.naming import manifest_path, sha256_path
from pytest_prodcheck.backup.s3 import S3Config, S3Store, local_etag
from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable, ToolError
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.stack.s3 import S3Server
from tests._backup_env import denying_s3, start_s3, stop_s3


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = start_s3()
    yield server
    stop_s3(server)


def _store(s3: S3Server, prefix: str = "databases/") -> S3Store:
    ep = s3.endpoint()
    cfg = S3Config(
        bucket=ep.bucket,
        endpoint_url=ep.endpoint_url,
        access_key_id="testing",
        secret_access_key="testing",
        prefix=prefix,
    )
    return S3Store(cfg)


def _backup(d: Path, name: str, size: int) -> Path:
    path = d / name
    path.write_bytes(os.urandom(size))
    sha256_path(path).write_text("x")
    manifest_path(path).write_text("{}")
    return path


def test_upload_small_and_multipart_then_verify(s3: S3Server, tmp_path: Path):
    store = _store(s3)
    small = _backup(tmp_path, "ai_db_20250128_120000.sql.gz", 1000)
    large = _backup(tmp_path, "main_db_20250128_120000.sql.gz", 17 * 1024 * 1024)
    for path in (small, large):
        obj = store.upload(path)
        assert obj.encrypted and obj.size_bytes == path.stat().st_size
        assert obj.key == f"databases/{path.name}"
        check = store.verify(path, deep=True)
        assert check.identical, check.detail
    head = store.head(large)
    assert head is not None and head.etag.endswith("-3")  # multipart: 8 MB parts
    assert local_etag(large).endswith("-3")
    keys = [o.key for o in store.list()]
    assert keys == [
        "databases/ai_db_20250128_120000.sql.gz",
        "databases/main_db_20250128_120000.sql.gz",
    ]
    sidecar = s3.client().head_object(Bucket=s3.bucket, Key=f"databases/{large.name}.sha256")
    assert sidecar["ContentLength"] == 1


def test_missing_and_different_copies_are_detected(s3: S3Server, tmp_path: Path):
    store = _store(s3, prefix="other/")
    path = _backup(tmp_path, "main_db_20250201_000000.sql.gz", 5000)
    missing = store.verify(path)
    assert not missing.present and not missing.identical
    s3.client().put_object(Bucket=s3.bucket, Key=store.key(path), Body=os.urandom(5000))
    changed = store.verify(path)
    assert changed.present and not changed.identical and "ETag" in changed.detail
    s3.client().put_object(Bucket=s3.bucket, Key=store.key(path), Body=b"short")
    assert "size" in store.verify(path).detail


def test_unreachable_endpoint(tmp_path: Path):
    cfg = S3Config(
        bucket="b-test",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id="k",
        secret_access_key="s",
    )
    from botocore.config import Config

    store = S3Store(cfg)
    path = _backup(tmp_path, "main_db_20250128_120000.sql.gz", 10)
    import boto3

    store._client = boto3.client(
        "s3",
        endpoint_url=cfg.endpoint_url,
        aws_access_key_id="k",
        aws_secret_access_key="s",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(TargetUnreachable, match="cannot reach S3"):
        store.upload(path)


def test_missing_bucket_config():
    with pytest.raises(ConfigError, match="AWS_BACKUP_BUCKET"):
        S3Store(S3Config(bucket=""))


def test_nonexistent_bucket(s3: S3Server, tmp_path: Path):
    ep = s3.endpoint()
    store = S3Store(
        S3Config(
            bucket="no-such-bucket-here",
            endpoint_url=ep.endpoint_url,
            access_key_id="testing",
            secret_access_key="testing",
        )
    )
    with pytest.raises(ConfigError, match="does not exist"):
        store.upload(_backup(tmp_path, "main_db_20250128_120000.sql.gz", 10))


def test_denied_endpoint(tmp_path: Path):
    """moto with IAM enforcement on: unknown credentials are refused (InvalidAccessKeyId)."""
    with denying_s3() as endpoint:
        store = S3Store(
            S3Config(
                bucket="denied-bucket",
                endpoint_url=endpoint,
                access_key_id="AKIAUNKNOWN",
                secret_access_key="wrong",
            )
        )
        with pytest.raises(ConfigError, match="S3 denied upload") as info:
            store.upload(_backup(tmp_path, "main_db_20250128_120000.sql.gz", 10))
        assert "wrong" not in str(info.value)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, *args: object, **kwargs: object) -> Iterator[bytes]:
        yield self.body


def _flaky(store: S3Store, failures: int) -> list[str]:
    """Answer the first ``failures`` PutObject requests with 503 SlowDown (a transient error)."""
    from botocore.awsrequest import AWSResponse

    calls: list[str] = []

    def before_send(request: object, **kwargs: object) -> AWSResponse | None:
        calls.append("503" if len(calls) < failures else "sent")
        if calls[-1] == "sent":
            return None
        body = b"<Error><Code>SlowDown</Code><Message>Reduce your request rate</Message></Error>"
        return AWSResponse("http://s3", 503, {}, _Raw(body))

    store.client.meta.events.register("before-send.s3.PutObject", before_send)
    return calls


def test_transient_errors_are_retried(s3: S3Server, tmp_path: Path):
    store = _store(s3, prefix="flaky/")
    calls = _flaky(store, failures=2)
    path = _backup(tmp_path, "main_db_20250128_120000.sql.gz", 1000)
    obj = store.upload(path)
    assert calls[:3] == ["503", "503", "sent"]  # retried, then the stored copy was checked
    assert obj.encrypted and store.verify(path, deep=True).identical


def test_persistent_errors_give_up_with_one_line(s3: S3Server, tmp_path: Path, monkeypatch):
    import types

    slept: list[float] = []  # botocore's backoff between attempts, recorded instead of waited
    monkeypatch.setattr("botocore.endpoint.time", types.SimpleNamespace(sleep=slept.append))
    store = _store(s3, prefix="down/")
    calls = _flaky(store, failures=100)
    with pytest.raises(ToolError, match=r"S3 upload on .* failed \(SlowDown") as info:
        store.upload(_backup(tmp_path, "main_db_20250128_120000.sql.gz", 1000))
    assert len(calls) >= 5 and len(slept) >= 4  # retried with backoff, then gave up
    assert "\n" not in str(info.value)
