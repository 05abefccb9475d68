"""An S3 server for backups: moto's server mode as a child process, with the bucket created.

    >>> s3 = S3Server(make_tempdir("s3-"), bucket="prodcheck-backups").start()
    >>> s3.endpoint_url
    'http://127.0.0.1:40321'
    >>> s3.endpoint()          # S3Endpoint(bucket=..., endpoint_url=..., dummy credentials)
    >>> s3.client().list_objects_v2(Bucket="prodcheck-backups")
    >>> s3.reset()             # POST /moto-api/reset: every bucket gone (bucket re-created)
    >>> s3.stop()

moto accepts any credentials; the local stack hands out fixed dummy ones (``testing``) so
botocore never walks the real credential chain.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from pytest_prodcheck.core.errors import TargetUnreachable, ToolError
from pytest_prodcheck.core.ports import free_port, wait_port
from pytest_prodcheck.core.proc import ManagedProcess
from pytest_prodcheck.stack.endpoints import S3Endpoint

DUMMY_KEY_ID = "testing"
DUMMY_SECRET = "testing"
DEFAULT_BUCKET = "prodcheck-backups"


def _moto_server_argv() -> list[str]:
    sibling = Path(sys.executable).with_name("moto_server")
    if sibling.exists():
        return [str(sibling)]
    found = shutil.which("moto_server")
    if found:
        return [found]
    return [sys.executable, "-m", "moto.server"]


class S3Server:
    """``moto_server -H 127.0.0.1 -p PORT`` in its own process group."""

    def __init__(
        self,
        workdir: Path,
        *,
        bucket: str = DEFAULT_BUCKET,
        region: str = "us-east-1",
        port: int | None = None,
        prefix: str = "databases/",
    ) -> None:
        self.workdir = workdir
        self.bucket = bucket
        self.region = region
        self.prefix = prefix
        self.port = port or free_port()
        self.process = ManagedProcess("moto_server")

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoint(self) -> S3Endpoint:
        return S3Endpoint(
            bucket=self.bucket,
            endpoint_url=self.endpoint_url,
            region=self.region,
            access_key_id=DUMMY_KEY_ID,
            secret_access_key=DUMMY_SECRET,
            prefix=self.prefix,
        )

    def start(self, timeout: float = 20.0, *, create_bucket: bool = True) -> S3Server:
        """Start moto, wait for its port, create the bucket."""
        self.launch()
        self.wait_ready(timeout, create_bucket=create_bucket)
        return self

    def launch(self) -> None:
        """Start the process without waiting (see :meth:`wait_ready`)."""
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=DUMMY_KEY_ID,
            AWS_SECRET_ACCESS_KEY=DUMMY_SECRET,
            AWS_DEFAULT_REGION=self.region,
            AWS_EC2_METADATA_DISABLED="true",
        )
        argv = [*_moto_server_argv(), "-H", "127.0.0.1", "-p", str(self.port)]
        self.process.start(argv, env=env, cwd=self.workdir, log_path=self.workdir / "moto.log")

    def wait_ready(self, timeout: float = 20.0, *, create_bucket: bool = True) -> None:
        try:
            wait_port("127.0.0.1", self.port, timeout, proc=self.process)
        except (ToolError, TargetUnreachable) as exc:
            tail = self.process.log_tail()
            self.stop()
            raise ToolError(f"moto S3 server did not start on port {self.port}: {tail}") from exc
        if create_bucket:
            self.create_bucket()

    def _request(self, method: str, path: str, body: bytes = b"") -> int:
        req = urllib.request.Request(f"{self.endpoint_url}{path}", data=body, method=method)
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    return int(resp.status)
            except urllib.error.HTTPError as exc:
                return int(exc.code)
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise TargetUnreachable(f"S3 server {self.endpoint_url}: {exc}") from exc
                time.sleep(0.02)

    def create_bucket(self, name: str | None = None) -> None:
        """Create ``name`` (default the stack's bucket); existing is fine."""
        name = name or self.bucket
        body = b""
        if self.region != "us-east-1":
            body = (
                "<CreateBucketConfiguration><LocationConstraint>"
                f"{self.region}</LocationConstraint></CreateBucketConfiguration>"
            ).encode()
        status = self._request("PUT", f"/{name}", body)
        if status not in (200, 409):
            raise ToolError(
                f"creating S3 bucket {name!r} on {self.endpoint_url} gave HTTP {status}"
            )

    def reset(self, *, recreate_bucket: bool = True) -> None:
        """Forget every bucket and object (moto's reset API)."""
        self._request("POST", "/moto-api/reset")
        if recreate_bucket:
            self.create_bucket()

    def client(self) -> Any:
        """A boto3 S3 client for this server (path-style addressing, dummy credentials)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=DUMMY_KEY_ID,
            aws_secret_access_key=DUMMY_SECRET,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}),
        )

    def stop(self) -> None:
        self.process.stop(signal.SIGTERM, timeout=3)

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.stop()
