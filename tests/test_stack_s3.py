"""stack/s3.py: moto's server as a child process, with the bucket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.stack.s3 import S3Server


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    work = make_tempdir("test-s3-")
    server = S3Server(work, bucket="prodcheck-test-backups").start()
    yield server
    server.stop()
    remove_tempdir(work)


def test_bucket_exists_and_round_trips(s3: S3Server) -> None:
    client = s3.client()
    client.put_object(Bucket=s3.bucket, Key="databases/x.sql.gz", Body=b"dump")
    assert client.get_object(Bucket=s3.bucket, Key="databases/x.sql.gz")["Body"].read() == b"dump"
    ep = s3.endpoint()
    assert ep.endpoint_url == s3.endpoint_url and ep.access_key_id == "testing"
    assert s3.endpoint_url.startswith("http://127.0.0.1:")


def test_missing_bucket_is_an_error(s3: S3Server) -> None:
    with pytest.raises(ClientError, match="NoSuchBucket"):
        s3.client().list_objects_v2(Bucket="no-such-bucket-prodcheck")


def test_reset_forgets_objects_but_keeps_the_bucket(s3: S3Server) -> None:
    client = s3.client()
    client.put_object(Bucket=s3.bucket, Key="a", Body=b"1")
    s3.reset()
    assert client.list_objects_v2(Bucket=s3.bucket)["KeyCount"] == 0


def test_runs_as_separate_process(s3: S3Server) -> None:
    import os

    assert s3.process.alive and s3.process.pid != os.getpid()
