"""The S3 history store against the stack's real moto S3 server: write, read, outages, faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pytest_prodcheck.backup.s3 import S3Config
from pytest_prodcheck.config.history import history_settings
from pytest_prodcheck.core.errors import ConfigError, TargetUnreachable
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.history.s3store import S3HistoryStore
from pytest_prodcheck.history.store import open_store
from pytest_prodcheck.stack.s3 import S3Server
from tests._backup_env import start_s3, stop_s3
from tests._history_env import SMOKE_ITEMS, run_record, summary

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = start_s3()
    yield server
    stop_s3(server)


def _cfg(s3: S3Server | None, bucket: str = "prodcheck-backups") -> S3Config:
    url = s3.endpoint_url if s3 else f"http://127.0.0.1:{free_port()}"  # nothing listens there
    return S3Config(bucket, url, access_key_id="testing", secret_access_key="testing")


def _rec(minutes_ago: int = 0):
    when = NOW - timedelta(minutes=minutes_ago)
    return run_record(when, dict.fromkeys(SMOKE_ITEMS, "passed"), loads=[summary("smoke", when)])


def test_records_round_trip_through_the_bucket(s3: S3Server, tmp_path: Path) -> None:
    s3.reset()
    store = S3HistoryStore(_cfg(s3), prefix="hist/", spool=tmp_path / "pending")
    a, b = _rec(5), _rec(0)
    where = store.append(a)
    assert where == f"s3://prodcheck-backups/hist/{a.run_id}.json"
    store.append(b)
    head = s3.client().head_object(Bucket="prodcheck-backups", Key=f"hist/{a.run_id}.json")
    assert head["ServerSideEncryption"] == "AES256"
    got = store.read()
    assert [r.run_id for r in got.records] == [a.run_id, b.run_id] and got.problems == ()
    assert got.records[0] == a and got.records[0].location.startswith("s3://prodcheck-backups/")
    assert store.notes == [] and not (tmp_path / "pending").exists()


def test_the_same_name_twice_is_never_replaced(s3: S3Server, tmp_path: Path) -> None:
    s3.reset()
    store = S3HistoryStore(_cfg(s3), prefix="hist/", spool=tmp_path / "pending")
    rec = _rec()
    first, second = store.append(rec), store.append(rec)
    assert first != second and second.endswith(f"{rec.run_id}-2.json")
    keys = s3.client().list_objects_v2(Bucket="prodcheck-backups", Prefix="hist/")["Contents"]
    assert len(keys) == 2


def test_an_unreachable_bucket_spools_locally_then_uploads(s3: S3Server, tmp_path: Path) -> None:
    s3.reset()
    spool = tmp_path / "pending"
    down = S3HistoryStore(_cfg(None), prefix="hist/", spool=spool)
    rec = _rec(10)
    kept = down.append(rec)
    assert Path(kept).parent == spool and Path(kept).is_file()
    [note] = down.notes
    assert note.startswith("history: cannot reach the history bucket s3://prodcheck-backups/hist/")
    assert f"record kept in {kept}" in note and "\n" not in note
    with pytest.raises(TargetUnreachable, match=r"cannot reach the history bucket .* to read"):
        down.read()

    up = S3HistoryStore(_cfg(s3), prefix="hist/", spool=spool)
    assert [r.run_id for r in up.read().records] == [rec.run_id]  # pending ones count already
    later = _rec(0)
    up.append(later)
    assert up.notes == ["history: uploaded 1 record(s) kept locally earlier"]
    assert list(spool.glob("*.json")) == []
    keys = {o["Key"] for o in s3.client().list_objects_v2(Bucket="prodcheck-backups")["Contents"]}
    assert keys == {f"hist/{rec.run_id}.json", f"hist/{later.run_id}.json"}


def test_bad_objects_are_skipped_and_reported(s3: S3Server, tmp_path: Path) -> None:
    s3.reset()
    store = S3HistoryStore(_cfg(s3), prefix="hist/", spool=tmp_path / "pending")
    good = _rec()
    store.append(good)
    client = s3.client()
    client.put_object(Bucket="prodcheck-backups", Key="hist/20261128T100000Z-bad.json", Body=b"{no")
    newer = json.loads(good.to_json()) | {"schema_version": 7, "run_id": "x"}
    client.put_object(
        Bucket="prodcheck-backups", Key="hist/20261128T100100Z-new.json", Body=json.dumps(newer)
    )
    got = store.read()
    assert [r.run_id for r in got.records] == [good.run_id]
    assert len(got.problems) == 2
    assert got.problems[0].startswith(
        "s3://prodcheck-backups/hist/20261128T100000Z-bad.json: skipped: not valid JSON"
    )
    assert "history schema 7 > 1" in got.problems[1]


def test_a_missing_bucket_is_one_config_error(s3: S3Server, tmp_path: Path) -> None:
    store = S3HistoryStore(_cfg(s3, "no-such-bucket"), prefix="hist/", spool=tmp_path / "p")
    with pytest.raises(ConfigError, match="the history bucket 'no-such-bucket' does not exist"):
        store.read()
    with pytest.raises(ConfigError, match="does not exist"):
        store.append(_rec())  # a config error is not spooled: it would never heal by itself
    assert not (tmp_path / "p").exists()


def test_open_store_uses_the_backup_s3_settings(s3: S3Server, tmp_path: Path) -> None:
    hs = history_settings({"s3": True, "s3_prefix": "team/history"})
    store = open_store(hs, _cfg(s3), report_dir=tmp_path)
    assert isinstance(store, S3HistoryStore)
    assert (
        store.prefix == "team/history/"
        and store.spool.directory == tmp_path / "history" / "pending"
    )
