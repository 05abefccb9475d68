"""S3 copies against moto's server: multipart, checksum-verified, encrypted; faults."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.backup.naming import manifest_path, sha256_path
from pytest_prodcheck.backup.s3 import S3Config, S3Store, local_etag
from pytest_prodcheck.errors import ConfigError, TargetUnreachable
from pytest_prodcheck.stack._proc import (
    ManagedProcess,
    free_port,
    make_tempdir,
    remove_tempdir,
    wait_port,
)
from pytest_prodcheck.stack.s3 import S3Server
from tests._backup_env import start_s3, stop_s3


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
    work = make_tempdir("s3-denied-")
    port = free_port()
    proc = ManagedProcess("moto_server")
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0", AWS_EC2_METADATA_DISABLED="true")
    moto = Path(sys.executable).with_name("moto_server")
    proc.start([str(moto), "-H", "127.0.0.1", "-p", str(port)], env=env, log_path=work / "moto.log")
    try:
        wait_port("127.0.0.1", port, 20, proc=proc)
        store = S3Store(
            S3Config(
                bucket="denied-bucket",
                endpoint_url=f"http://127.0.0.1:{port}",
                access_key_id="AKIAUNKNOWN",
                secret_access_key="wrong",
            )
        )
        with pytest.raises(ConfigError, match="S3 denied upload") as info:
            store.upload(_backup(tmp_path, "main_db_20250128_120000.sql.gz", 10))
        assert "wrong" not in str(info.value)
    finally:
        proc.stop()
        remove_tempdir(work)
