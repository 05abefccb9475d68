"""The directory history store: round trip, concurrent writers, bad records skipped."""

from __future__ import annotations

import json
import multiprocessing
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pytest_prodcheck.config.history import HistorySettings, history_settings
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.history import DirStore, HistoryRecord, make_record
from pytest_prodcheck.history.records import HISTORY_SCHEMA, target_key
from pytest_prodcheck.history.store import open_store
from pytest_prodcheck.release.baseline import BaselineLimits
from tests._history_env import SMOKE_ITEMS, run_record, summary

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _rec(minutes_ago: int = 0) -> HistoryRecord:
    when = NOW - timedelta(minutes=minutes_ago)
    return run_record(when, dict.fromkeys(SMOKE_ITEMS, "passed"), loads=[summary("smoke", when)])


def test_round_trip_keeps_provenance_report_and_load(tmp_path: Path) -> None:
    store = DirStore(tmp_path / "history")
    rec = _rec()
    where = store.append(rec)
    assert Path(where).name == f"{rec.run_id}.json"
    assert not [p for p in (tmp_path / "history").iterdir() if p.name.startswith(".")]
    got = store.read()
    assert got.problems == ()
    [back] = got.records
    assert back == rec
    assert (back.target, back.release, back.commit, back.marker_expression) == (
        "shop.example.com",
        "REL-9",
        "0123abcd",
        "smoke",
    )
    assert back.started_utc == NOW - timedelta(minutes=3) and back.finished_utc == NOW
    assert back.report is not None and back.report["verdict"] == "GO"
    assert back.load[0].p95_ms == 300.0 and back.load[0].profile == "smoke"
    data = json.loads(Path(where).read_text())
    assert data["kind"] == "prodcheck-history" and data["schema_version"] == HISTORY_SCHEMA
    assert data["run_id"] == rec.run_id and data["finished_utc"] == "2026-11-28T12:00:00Z"


def test_the_same_run_id_twice_never_overwrites(tmp_path: Path) -> None:
    store = DirStore(tmp_path)
    rec = _rec()
    first, second = store.append(rec), store.append(rec)
    assert first != second and Path(second).name == f"{rec.run_id}-2.json"
    assert len(store.read().records) == 2  # both kept and readable; decide_release dedupes
    assert sorted(p.name for p in tmp_path.glob("*.json")) == sorted(
        [Path(first).name, Path(second).name]
    )


def _writer(directory: str, run_id: str, n: int) -> None:
    store = DirStore(Path(directory))
    for i in range(n):
        rec = make_record(None, [], kind="load", target_name="local", run_id=run_id)
        store.append(rec)
        del i


def test_concurrent_runs_writing_at_once_all_keep_their_records(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_writer, args=(str(tmp_path), "20261128T120000Z-same", 15))
        for _ in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert len(names) == 45 and len(set(names)) == 45
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left over


def test_bad_records_are_skipped_one_line_each_and_left_alone(tmp_path: Path) -> None:
    store = DirStore(tmp_path)
    good = _rec(10)
    store.append(good)
    newer = json.loads(good.to_json())
    newer.update(schema_version=HISTORY_SCHEMA + 1, run_id="20261128T115900Z-newer")
    newer_report = json.loads(good.to_json())
    newer_report["run_id"] = "20261128T115800Z-newrep"
    newer_report["report"]["schema_version"] = 99
    files = {
        "20261128T110000Z-corrupt.json": b'{"kind": "prodcheck-history", "schema_ver',
        "20261128T110100Z-foreign.json": json.dumps({"name": "package.json"}).encode(),
        "20261128T110200Z-newer.json": json.dumps(newer).encode(),
        "20261128T110300Z-newrep.json": json.dumps(newer_report).encode(),
        "20261128T110400Z-binary.json": b"\xff\xfe\x00garbage",
        "notes.txt": b"ignored: not a record name",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    got = store.read()
    assert [r.run_id for r in got.records] == [good.run_id]
    assert len(got.problems) == 5
    by_name = {p.split(": skipped: ")[0].rsplit("/", 1)[1]: p for p in got.problems}
    assert "not valid JSON" in by_name["20261128T110000Z-corrupt.json"]
    assert (
        "not a prodcheck history record (foreign file)" in by_name["20261128T110100Z-foreign.json"]
    )
    assert (
        f"history schema {HISTORY_SCHEMA + 1} > {HISTORY_SCHEMA}); upgrade pytest-prodcheck"
        in (by_name["20261128T110200Z-newer.json"])
    )
    assert "its report has a newer schema (99 > 1)" in by_name["20261128T110300Z-newrep.json"]
    assert "not UTF-8" in by_name["20261128T110400Z-binary.json"]
    assert all("\n" not in p for p in got.problems)
    for name, data in files.items():  # nothing deleted or rewritten
        assert (tmp_path / name).read_bytes() == data


def test_since_leaves_old_records_unread(tmp_path: Path) -> None:
    store = DirStore(tmp_path)
    old = run_record(NOW - timedelta(days=100), {"testing.smoke": "passed"})
    new = _rec()
    store.append(old)
    store.append(new)
    (tmp_path / "20250101T000000Z-corrupt.json").write_text("{")  # old: not even opened
    got = store.read(since=NOW - timedelta(days=90))
    assert [r.run_id for r in got.records] == [new.run_id] and got.problems == ()


def test_an_unwritable_history_dir_is_one_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    store = DirStore(tmp_path / "file" / "history")
    with pytest.raises(
        ConfigError, match=r"cannot create the history directory .*set \[history\] dir"
    ):
        store.append(_rec())
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(ConfigError, match="is not writable"):
            DirStore(ro).append(_rec())


def test_target_key_groups_by_site_host() -> None:
    assert (
        target_key("external", "https://user:pw@Shop.Example.com:8443/x") == "shop.example.com:8443"
    )
    assert target_key("local", "https://127.0.0.1:4000") == "local"
    assert target_key("docker") == "docker"


def test_history_settings_validate_and_pick_the_store(tmp_path: Path) -> None:
    hs = history_settings(
        {
            "s3": False,
            "trend_runs": 10,
            "max_age": {"backups": "14d"},
            "baseline_p95_increase_pct": 30,
        },
        "prodcheck.toml",
    )
    assert hs.trend_runs == 10 and BaselineLimits.from_settings(hs).p95_increase_pct == 30.0
    assert hs.policy().team["backups"].text == "14 d"
    store = open_store(hs, None, report_dir=tmp_path)
    assert isinstance(store, DirStore) and store.directory == tmp_path / "history"
    assert HistorySettings(dir=str(tmp_path / "h")).directory("reports") == tmp_path / "h"
    with pytest.raises(
        ConfigError, match=r"prodcheck.toml: unknown key \[history\] dirr; allowed: "
    ):
        history_settings({"dirr": "x"}, "prodcheck.toml")
    with pytest.raises(
        ConfigError, match=r"\[history\] trend_runs = 0: expected a whole number >= 1"
    ):
        history_settings({"trend_runs": 0}, "prodcheck.toml")
    assert history_settings({"baseline_p95_min_increase_ms": 0}).baseline_p95_min_increase_ms == 0
    with pytest.raises(
        ConfigError, match=r"baseline_p95_min_increase_ms = -1: expected milliseconds >= 0"
    ):
        history_settings({"baseline_p95_min_increase_ms": -1}, "prodcheck.toml")
    with pytest.raises(ConfigError, match=r"\[history.max_age\] testing.stress = 'soon'"):
        history_settings({"max_age": {"testing.stress": "soon"}}, "prodcheck.toml")
    with pytest.raises(ConfigError, match=r"s3 = true but no S3 bucket is configured"):
        open_store(history_settings({"s3": True}), None)
