"""The plugin and the history: every run appends a record; --prodcheck-history writes release.*"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pytest_prodcheck.checklist import Attestation, append_attestation
from pytest_prodcheck.core.ports import free_port
from pytest_prodcheck.history import DirStore
from pytest_prodcheck.report.gate import check_report_dir
from tests._history_env import DRILL_ITEMS, NIGHTLY_ITEMS, SMOKE_ITEMS, run_record, summary

SMOKE_SUITE = "\n".join(
    [
        "import pytest",
        "",
        *(
            f"@pytest.mark.smoke\n@pytest.mark.checklist({item!r})\n"
            f"def test_{n}(prodcheck_evidence):\n"
            f"    prodcheck_evidence.record('{item}.check', 'ok', 'ok', passed=True)\n"
            for n, item in enumerate(SMOKE_ITEMS)
        ),
    ]
)


def _seed(path: Path, drill_age: timedelta) -> DirStore:
    now = datetime.now(UTC)  # the run measures ages from its own end
    store = DirStore(path / "reports" / "history")
    local = {"target": "local", "url": None, "release": None}
    store.append(run_record(now - drill_age, dict.fromkeys(DRILL_ITEMS, "passed"), **local))  # type: ignore[arg-type]
    stress_at = now - timedelta(days=1)
    store.append(
        run_record(
            stress_at,
            {"testing.stress": "passed"},
            markers="stress",
            loads=[summary("stress", stress_at, users=200)],
            **local,  # type: ignore[arg-type]
        )
    )
    store.append(
        run_record(now - timedelta(hours=9), dict.fromkeys(NIGHTLY_ITEMS, "passed"), **local)  # type: ignore[arg-type]
    )
    append_attestation(
        path / "attestations.toml",
        Attestation("security.firewall", "Jane Ops", now - timedelta(days=2), "https://t/OPS-1"),
    )
    return store


@pytest.fixture
def smoke(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_smoke=SMOKE_SUITE)
    return pytester


def test_a_run_appends_its_record(smoke: pytest.Pytester) -> None:
    result = smoke.runpytest("-m", "smoke", "--prodcheck-release", "REL-9")
    result.assert_outcomes(passed=len(SMOKE_ITEMS))
    got = DirStore(smoke.path / "reports" / "history").read()
    [rec] = got.records
    assert (rec.target, rec.release, rec.marker_expression, rec.kind) == (
        "local",
        "REL-9",
        "smoke",
        "run",
    )
    report = json.loads((smoke.path / "reports" / "checklist.json").read_text())
    assert rec.report == report  # the checklist.json content, as written
    assert not (smoke.path / "reports" / "release.json").exists()  # only with --prodcheck-history


def test_release_report_at_session_end_decides_from_the_history(smoke: pytest.Pytester) -> None:
    _seed(smoke.path, timedelta(days=6))
    result = smoke.runpytest("-m", "smoke", "--prodcheck-history", "--prodcheck-release", "REL-9")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "prodcheck: verdict GO over 8/51 checklist items decided *",
            "prodcheck: release GO: every critical item is decided by fresh evidence; "
            "report: reports/release.{json,md,html}",
        ]
    )
    data = json.loads((smoke.path / "reports" / "release.json").read_text())
    items = {i["id"]: i for i in data["items"]}
    assert (
        items["security.https-only"]["status"] == "passed"
        and items["security.https-only"]["age"] == "now"
    )
    assert (items["testing.stress"]["status"], items["testing.stress"]["age"]) == ("passed", "24 h")
    assert (
        items["predeploy.disaster-recovery"]["status"],
        items["predeploy.disaster-recovery"]["age"],
    ) == ("passed", "6 d")
    assert data["run"]["release"] == "REL-9" and len(data["runs"]) == 4
    # the run's own report and the smoke gate are untouched
    own = json.loads((smoke.path / "reports" / "checklist.json").read_text())
    assert own["items"][0]["status"] in ("passed", "not_run")
    assert {i["id"]: i["status"] for i in own["items"]}["testing.stress"] == "not_run"
    assert check_report_dir(smoke.path / "reports") is None


def test_an_old_drill_makes_the_release_incomplete_not_the_run(smoke: pytest.Pytester) -> None:
    _seed(smoke.path, timedelta(days=40))
    result = smoke.runpytest("-m", "smoke", "--prodcheck-history")
    assert result.ret == 0  # make smoke's gate: the run's own verdict decides
    result.stdout.fnmatch_lines(
        [
            "prodcheck: release INCOMPLETE: 3 critical items lack fresh evidence: "
            "predeploy.disaster-recovery (stale: 40 d > 30 d), *"
        ]
    )
    html = (smoke.path / "reports" / "release.html").read_text()
    assert 'data-status="stale"' in html and "<svg" in html and "<script" not in html
    assert check_report_dir(smoke.path / "reports") is None


def test_a_bad_history_record_is_one_line_and_the_rest_counts(smoke: pytest.Pytester) -> None:
    store = _seed(smoke.path, timedelta(days=6))
    bad = store.directory / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-broken.json"
    bad.write_text("{truncated")
    result = smoke.runpytest("-m", "smoke", "--prodcheck-history")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            f"prodcheck: history: {bad.relative_to(smoke.path)}: skipped: not valid JSON *",
            "prodcheck: release GO*",
        ]
    )
    assert bad.read_text() == "{truncated"


def test_bad_history_settings_are_a_usage_error(smoke: pytest.Pytester) -> None:
    smoke.makefile(".toml", prodcheck="[history]\nmax_age = { backups = 'soon' }\n")
    result = smoke.runpytest("-m", "smoke")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*prodcheck.toml: [[]history.max_age[]] backups = 'soon': expected a maximum age like*"]
    )


def test_an_unwritable_history_dir_fails_the_run_in_one_line(smoke: pytest.Pytester) -> None:
    (smoke.path / "blocker").write_text("a file, not a directory")
    smoke.makefile(".toml", prodcheck='[history]\ndir = "blocker/history"\n')
    result = smoke.runpytest("-m", "smoke")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(
        ["prodcheck: ERROR: history: cannot create the history directory *blocker/history*"]
    )
    assert (smoke.path / "reports" / "checklist.json").is_file()  # the run's own report is kept


def test_an_unreachable_bucket_keeps_the_record_locally(
    smoke: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    url = f"http://127.0.0.1:{free_port()}"
    smoke.makefile(
        ".toml", prodcheck=f'[s3]\nbucket = "b"\nendpoint_url = "{url}"\n[history]\ns3 = true\n'
    )
    result = smoke.runpytest("-m", "smoke")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "prodcheck: history: cannot reach the history bucket s3://b/prodcheck-history/ at "
            f"{url} to write; record kept in reports/history/pending/*.json and uploaded by "
            "the next run that reaches the bucket"
        ]
    )
    assert len(list((smoke.path / "reports" / "history" / "pending").glob("*.json"))) == 1


def test_the_runs_load_summaries_go_into_its_record(pytester: pytest.Pytester) -> None:
    summary_json = json.dumps(summary("stress", datetime.now(UTC), p95=777, users=200))
    pytester.makepyfile(
        test_load=f"""
import pytest
from pathlib import Path

@pytest.mark.stress
@pytest.mark.checklist("testing.stress")
def test_load_stress(prodcheck_evidence, tmp_path):
    path = tmp_path / "summary.json"
    path.write_text({summary_json!r})
    prodcheck_evidence.record("p(95) < 1000ms", "777ms", "< 1000ms", passed=True)
    prodcheck_evidence.record("load.report", str(path), "", None)
"""
    )
    result = pytester.runpytest("-m", "stress")
    result.assert_outcomes(passed=1)
    [rec] = DirStore(pytester.path / "reports" / "history").read().records
    [digest] = rec.load
    assert (digest.name, digest.p95_ms, digest.users) == ("stress", 777.0, 200)
    assert rec.items()["testing.stress"]["status"] == "passed"
