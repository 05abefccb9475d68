"""S3 credentials for real: moto enforcing IAM (signatures, keys, policies) and retention.

A wrong secret, an unknown key and a policy without ``s3:PutObject`` are refused with one line
that names the bucket and never shows the secret; ``backup --s3 --retain DAYS`` prunes the
bucket's old copies (keeping the newest) unless a lifecycle rule already expires them in time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pytest_prodcheck.backup.manifest import utc_now
from pytest_prodcheck.backup.naming import backup_name, manifest_path, sha256_path
from pytest_prodcheck.backup.s3 import S3Config, S3Store
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.core.proc import make_tempdir, remove_tempdir
from pytest_prodcheck.stack.s3 import S3Server
from tests._backup_env import BackupEnv, cli_env, run_cli

SECRET = "Zq8-distinctive-S3-secret-0xC0FFEE"
NEEDED = ["s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:DeleteObject",
          "s3:GetLifecycleConfiguration"]  # fmt: skip


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = S3Server(make_tempdir("s3-iam-"), iam=True).start()
    yield server
    server.stop()
    remove_tempdir(server.workdir)


@pytest.fixture(scope="module")
def users(s3: S3Server) -> dict[str, tuple[str, str]]:
    return {
        "full": s3.add_user("backup-full", NEEDED),
        "no-put": s3.add_user("backup-no-put", [a for a in NEEDED if a != "s3:PutObject"]),
        "no-delete": s3.add_user("backup-no-delete", [a for a in NEEDED if a != "s3:DeleteObject"]),
    }


def _store(s3: S3Server, key_id: str, secret: str, prefix: str = "databases/") -> S3Store:
    return S3Store(S3Config(bucket=s3.bucket, endpoint_url=s3.endpoint_url, prefix=prefix,
                            access_key_id=key_id, secret_access_key=secret))  # fmt: skip


def _backup(d: Path, kind: str = "ai", age_days: float = 0) -> Path:
    path = d / backup_name(kind, utc_now() - timedelta(days=age_days))  # type: ignore[arg-type]
    path.write_bytes(os.urandom(2000))
    sha256_path(path).write_text("x")
    manifest_path(path).write_text("{}")
    return path


def _denied(exc: pytest.ExceptionInfo[ConfigError], s3: S3Server, code: str) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and f"s3://{s3.bucket}/" in msg and code in msg, msg
    assert SECRET not in msg
    return msg


def test_the_right_key_uploads(s3: S3Server, users, tmp_path: Path) -> None:
    store = _store(s3, *users["full"], prefix="ok/")
    obj = store.upload(_backup(tmp_path))
    assert obj.encrypted and store.verify(tmp_path / obj.key.split("/")[-1], deep=True).identical


def test_a_wrong_secret_is_refused_naming_the_bucket(s3: S3Server, users, tmp_path: Path) -> None:
    key_id, _real = users["full"]
    with pytest.raises(ConfigError) as exc:
        _store(s3, key_id, SECRET).upload(_backup(tmp_path))
    _denied(exc, s3, "SignatureDoesNotMatch")


def test_an_unknown_key_is_refused(s3: S3Server, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        _store(s3, "AKIAUNKNOWNUNKNOWN00", SECRET).upload(_backup(tmp_path))
    _denied(exc, s3, "InvalidAccessKeyId")


def test_a_policy_without_put_object_fails_the_upload(s3: S3Server, users, tmp_path: Path):
    store = _store(s3, *users["no-put"], prefix="noput/")
    assert store.list() == []  # the key itself works: listing is allowed
    with pytest.raises(ConfigError) as exc:
        store.upload(_backup(tmp_path))
    assert "S3 denied upload" in _denied(exc, s3, "AccessDenied")


def test_prune_keeps_the_newest_and_recent_copies(s3: S3Server, users, tmp_path: Path):
    store = _store(s3, *users["full"], prefix="prune/")
    old = [_backup(tmp_path, "main", 45), _backup(tmp_path, "main", 31)]
    recent = _backup(tmp_path, "main", 3)
    lonely = _backup(tmp_path, "ai", 60)  # the only ai copy: kept whatever its age
    for path in (*old, recent, lonely):
        store.upload(path, verify=False)
    done = store.retention(30)
    assert done.action == "pruned" and done.rule_days is None
    assert sorted(done.deleted) == sorted(f"prune/{p.name}" for p in old)
    assert done.kept_newest == (f"prune/{lonely.name}",)
    left = {
        k["Key"] for k in s3.client().list_objects_v2(Bucket=s3.bucket, Prefix="prune/")["Contents"]
    }
    assert all(
        not k.startswith(tuple(f"prune/{p.name}" for p in old)) for k in left
    )  # sidecars too
    assert f"prune/{recent.name}" in left and f"prune/{lonely.name}" in left


def test_a_lifecycle_rule_is_verified_instead_of_pruning(s3: S3Server, users, tmp_path: Path):
    store = _store(s3, *users["full"], prefix="life/")
    old = _backup(tmp_path, "main", 45)
    store.upload(old, verify=False)
    store.upload(_backup(tmp_path, "main", 1), verify=False)
    rules = [{"ID": "expire-backups", "Status": "Enabled", "Filter": {"Prefix": "life/"},
              "Expiration": {"Days": 30}}]  # fmt: skip
    s3.client().put_bucket_lifecycle_configuration(
        Bucket=s3.bucket, LifecycleConfiguration={"Rules": rules}
    )
    try:
        assert store.lifecycle_days() == 30
        done = store.retention(30)
        assert (done.action, done.rule_days, done.deleted) == ("lifecycle", 30, ())
        longer = store.retention(7)  # the rule keeps more than asked: prune
        assert longer.action == "pruned" and longer.deleted == (f"life/{old.name}",)
        assert _store(s3, *users["full"], prefix="other/").lifecycle_days() is None
    finally:
        s3.client().delete_bucket_lifecycle(Bucket=s3.bucket)


# -- through the CLI: backup --s3 --retain -------------------------------------------------------


@pytest.fixture(scope="module")
def pg() -> Iterator[BackupEnv]:
    env = BackupEnv.start(orders=100)
    yield env
    env.stop()


def _cli_env(pg: BackupEnv, s3: S3Server, key: tuple[str, str]) -> dict[str, str]:
    return cli_env(pg, AWS_BACKUP_BUCKET=s3.bucket, AWS_ACCESS_KEY_ID=key[0],
                   AWS_SECRET_ACCESS_KEY=key[1])  # fmt: skip


def test_cli_backup_s3_retain_prunes_the_bucket(pg: BackupEnv, s3: S3Server, users, tmp_path):
    seed = _store(s3, *users["full"])
    old = _backup(tmp_path, "ai", 40)
    seed.upload(old, verify=False)
    d = tmp_path / "backups"
    args = ["backup", "--ai", "--s3", "--retain", "30", "--dir", str(d),
            "--endpoint-url", s3.endpoint_url]  # fmt: skip
    done = run_cli(args, _cli_env(pg, s3, users["full"]), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"S3 retention (30 days): deleted s3://{s3.bucket}/databases/{old.name}" in done.stdout
    assert seed.head(old) is None


def test_cli_wrong_secret_and_no_delete_are_one_line(pg: BackupEnv, s3: S3Server, users, tmp_path):
    d = tmp_path / "backups"
    args = ["backup", "--ai", "--s3", "--dir", str(d), "--endpoint-url", s3.endpoint_url]
    wrong = run_cli(args, _cli_env(pg, s3, (users["full"][0], SECRET)), tmp_path)
    assert wrong.returncode == 2
    [line] = wrong.stderr.strip().splitlines()
    assert f"s3://{s3.bucket}/" in line and "SignatureDoesNotMatch" in line
    assert SECRET not in wrong.stdout + wrong.stderr
    _store(s3, *users["full"]).upload(_backup(tmp_path, "ai", 50), verify=False)
    nodelete = run_cli([*args, "--retain", "30"], _cli_env(pg, s3, users["no-delete"]), tmp_path)
    assert nodelete.returncode == 2, nodelete.stdout + nodelete.stderr
    [line] = nodelete.stderr.strip().splitlines()
    assert line.startswith(
        "prodcheck: error: S3 retention failed: S3 denied delete old copies on s3://"
    ), line
