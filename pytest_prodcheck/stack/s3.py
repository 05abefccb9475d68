"""An S3 server for backups: moto's server mode as a child process, with the bucket created.

    >>> s3 = S3Server(make_tempdir("s3-"), bucket="prodcheck-backups").start()
    >>> s3.endpoint_url
    'http://127.0.0.1:40321'
    >>> s3.endpoint()          # S3Endpoint(bucket=..., endpoint_url=..., dummy credentials)
    >>> s3.client().list_objects_v2(Bucket="prodcheck-backups")
    >>> s3.reset()             # POST /moto-api/reset: every bucket gone (bucket re-created)
    >>> s3.stop()

moto accepts any credentials; the local stack hands out fixed dummy ones (``testing``) so
botocore never walks the real credential chain. With ``iam=True`` moto enforces IAM like AWS
(signatures, access keys, policies): the first requests create an admin user (its key is what
:meth:`endpoint` and :meth:`client` use), then every request is authenticated and authorized:

    >>> s3 = S3Server(make_tempdir("s3-"), iam=True).start()
    >>> key_id, secret = s3.add_user("uploader", ["s3:GetObject", "s3:ListBucket"])  # no PutObject
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_prodcheck.core.errors import TargetUnreachable, ToolError
from pytest_prodcheck.core.ports import free_port, wait_port
from pytest_prodcheck.core.proc import ManagedProcess
from pytest_prodcheck.stack.endpoints import S3Endpoint

DUMMY_KEY_ID = "testing"
DUMMY_SECRET = "testing"
DEFAULT_BUCKET = "prodcheck-backups"
ADMIN_USER = "prodcheck-admin"
_BOOTSTRAP_ACTIONS = 3  # CreateUser, PutUserPolicy, CreateAccessKey: unauthenticated, then IAM


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
        iam: bool = False,
    ) -> None:
        self.workdir = workdir
        self.iam = iam
        self.key_id, self.secret = DUMMY_KEY_ID, DUMMY_SECRET
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
            access_key_id=self.key_id,
            secret_access_key=self.secret,
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
        if self.iam:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(_BOOTSTRAP_ACTIONS)
        argv = [*_moto_server_argv(), "-H", "127.0.0.1", "-p", str(self.port)]
        self.process.start(argv, env=env, cwd=self.workdir, log_path=self.workdir / "moto.log")

    def wait_ready(self, timeout: float = 20.0, *, create_bucket: bool = True) -> None:
        try:
            wait_port("127.0.0.1", self.port, timeout, proc=self.process)
        except (ToolError, TargetUnreachable) as exc:
            tail = self.process.log_tail()
            self.stop()
            raise ToolError(f"moto S3 server did not start on port {self.port}: {tail}") from exc
        if self.iam:
            self.key_id, self.secret = self._bootstrap_admin()
        if create_bucket:
            self.create_bucket()

    def _iam(self, key_id: str, secret: str) -> Any:
        import boto3

        return boto3.session.Session().client(
            "iam",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            region_name=self.region,
        )

    def _bootstrap_admin(self) -> tuple[str, str]:
        """The unauthenticated first requests: an admin user allowed everything, its key."""
        iam = self._iam(DUMMY_KEY_ID, DUMMY_SECRET)
        iam.create_user(UserName=ADMIN_USER)
        iam.put_user_policy(
            UserName=ADMIN_USER, PolicyName="all", PolicyDocument=_policy(["*"], "*")
        )
        key = iam.create_access_key(UserName=ADMIN_USER)["AccessKey"]
        return str(key["AccessKeyId"]), str(key["SecretAccessKey"])

    def add_user(self, name: str, actions: Sequence[str], resource: str = "*") -> tuple[str, str]:
        """An IAM user allowed exactly ``actions`` on ``resource``; its ``(key id, secret)``."""
        if not self.iam:
            raise ToolError("add_user needs S3Server(iam=True): without IAM moto allows anything")
        iam = self._iam(self.key_id, self.secret)
        iam.create_user(UserName=name)
        iam.put_user_policy(
            UserName=name, PolicyName="only", PolicyDocument=_policy(actions, resource)
        )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return str(key["AccessKeyId"]), str(key["SecretAccessKey"])

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
        if self.iam:  # signed requests only
            client = self.client()
            extra: dict[str, Any] = {}
            if self.region != "us-east-1":
                extra["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                client.create_bucket(Bucket=name, **extra)
            return
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

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
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


def _policy(actions: Sequence[str], resource: str) -> str:
    import json

    statement = {"Effect": "Allow", "Action": list(actions), "Resource": resource}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
