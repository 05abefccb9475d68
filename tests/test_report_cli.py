"""``prodcheck report release``: the release decision from the history, exit codes, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pytest_prodcheck.checklist import Attestation, append_attestation
from pytest_prodcheck.cli import main
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.history import DirStore
from tests._history_env import DRILL_ITEMS, NIGHTLY_ITEMS, SMOKE_ITEMS, run_record


def _history(tmp_path: Path, drill_age: timedelta) -> DirStore:
    now = datetime.now(UTC)  # the CLI measures ages from its own now
    store = DirStore(tmp_path / "reports" / "history")
    store.append(
        run_record(
            now - drill_age, dict.fromkeys(DRILL_ITEMS, "passed"), markers="backups", release=None
        )
    )
    store.append(
        run_record(
            now - timedelta(days=1), {"testing.stress": "passed"}, markers="stress", release=None
        )
    )
    store.append(
        run_record(now - timedelta(hours=8), dict.fromkeys(NIGHTLY_ITEMS, "passed"), release=None)
    )
    store.append(run_record(now - timedelta(minutes=20), dict.fromkeys(SMOKE_ITEMS, "passed")))
    append_attestation(
        tmp_path / "attestations.toml",
        Attestation("security.firewall", "Jane Ops", now - timedelta(days=3), "https://t/OPS-1"),
    )
    return store


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for var in ("AWS_BACKUP_BUCKET", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_go_with_ages_and_the_three_files(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _history(cwd, timedelta(days=7))
    assert main(["report", "release", "--release", "REL-9"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "GO: every critical item is decided by fresh evidence"
    assert "report: reports/release.{json,md,html}" in out and err == ""
    data = json.loads((cwd / "reports" / "release.json").read_text())
    by_id = {i["id"]: i for i in data["items"]}
    assert by_id["predeploy.disaster-recovery"]["age"] == "7 d"
    assert (
        by_id["testing.stress"]["age"] == "24 h" and by_id["testing.stress"]["status"] == "passed"
    )
    assert by_id["security.https-only"]["age"] == "20 min"
    assert (cwd / "reports" / "release.md").is_file() and (
        cwd / "reports" / "release.html"
    ).is_file()


def test_an_old_drill_is_stale_and_incomplete_exit_1(
    cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _history(cwd, timedelta(days=40))
    assert main(["report", "release", "--target", "shop.example.com"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(
        "INCOMPLETE: 3 critical items lack fresh evidence: predeploy.disaster-recovery "
        "(stale: 40 d > 30 d)"
    )
    line = next(ln for ln in out.splitlines() if ln.startswith("  predeploy.disaster-recovery "))
    assert " stale " in line and "40 d old" in line


def test_json_output_is_one_document(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _history(cwd, timedelta(days=2))
    assert main(["report", "release", "--json", "--out", str(cwd / "out")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "GO" and data["target"] == "shop.example.com"
    assert (cwd / "out" / "release.html").is_file()


def test_skipped_records_are_one_note_each(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _history(cwd, timedelta(days=2))
    (store.directory / "20200101T000000Z-broken.json").write_text('{"kind": "prodcheck-hist')
    newer = store.directory / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-newer.json"
    newer.write_text(json.dumps({"kind": "prodcheck-history", "schema_version": 9}))
    assert main(["report", "release"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("prodcheck: note: ")  # the old one is not read
    assert (
        "newer.json: skipped: written by a newer pytest-prodcheck (history schema 9 > 1)" in err[0]
    )
    html = (cwd / "reports" / "release.html").read_text()
    assert "1 history record(s) skipped" in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--release", "REL-77"],
            "no run of release 'REL-77' on target 'shop.example.com' in the history reports/history; releases there: REL-9 (pass --release)",
        ),
        (
            ["--target", "staging"],
            "no run for target 'staging' in the history reports/history; targets there: shop.example.com (pass --target)",
        ),
        (["--set", "history.max_age.backups=1d"], "unknown section [history.max_age]"),
        (
            ["--set", "history.trend_runs=0"],
            "[history] trend_runs = 0: expected a whole number >= 1",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(
    cwd: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    _history(cwd, timedelta(days=2))
    assert main(["report", "release", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_an_empty_history_says_what_to_do(cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "release"]) == 2
    assert "has no usable record yet: run the suite first" in capsys.readouterr().err


def test_an_unreachable_history_bucket_is_one_line_exit_3(
    cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    args = ["--set", "history.s3=true", "--set", "s3.bucket=b", "--set", f"s3.endpoint_url={url}"]
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no credential lookup off-host
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(cwd / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(cwd / "none"))
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    assert main(["report", "release", *args]) == 2
    assert "no AWS credentials for the history bucket s3://b/" in capsys.readouterr().err
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert main(["report", "release", *args]) == 3
    err = capsys.readouterr().err
    assert (
        err.strip()
        == f"prodcheck: error: cannot reach the history bucket s3://b/prodcheck-history/ at {url} to read"
    )


def test_the_release_report_reads_the_s3_history(
    cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests._backup_env import start_s3, stop_s3

    s3 = start_s3()
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        client = s3.client()
        local = _history(cwd, timedelta(days=2))
        for path in local.names():
            client.put_object(
                Bucket=s3.bucket, Key=f"prodcheck-history/{path.name}", Body=path.read_bytes()
            )
            path.unlink()
        args = [
            "--set",
            "history.s3=true",
            "--set",
            f"s3.bucket={s3.bucket}",
            "--set",
            f"s3.endpoint_url={s3.endpoint_url}",
        ]
        assert main(["report", "release", "--json", *args]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["verdict"] == "GO" and data["history"].startswith(
            f"s3://{s3.bucket}/prodcheck-history/"
        )
    finally:
        stop_s3(s3)
