"""The release decision: items from fresh evidence across runs, their ages, stale, verdicts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from pytest_prodcheck.checklist import Attestation, Waiver
from pytest_prodcheck.config.ages import parse_max_age
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.history.records import HistoryRecord
from pytest_prodcheck.release import AgePolicy, decide_release
from tests._history_env import (
    DRILL_ITEMS,
    NIGHTLY_ITEMS,
    SMOKE_ITEMS,
    load_record,
    run_record,
    summary,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FIREWALL = Attestation("security.firewall", "Jane Ops", NOW - timedelta(days=20), "https://t/OPS-1")


def _history(drill_age: timedelta) -> list[HistoryRecord]:
    smoke = run_record(
        NOW - timedelta(minutes=30), dict.fromkeys(SMOKE_ITEMS, "passed"), markers="smoke"
    )
    stress = run_record(
        NOW - timedelta(days=1, hours=2),
        {"testing.stress": "passed"},
        markers="stress",
        release=None,
        loads=[summary("stress", NOW - timedelta(days=1, hours=2), users=200)],
    )
    nightly = run_record(
        NOW - timedelta(hours=10),
        dict.fromkeys(NIGHTLY_ITEMS, "passed"),
        markers="backups and not smoke",
        release=None,
    )
    drill = run_record(
        NOW - drill_age, dict.fromkeys(DRILL_ITEMS, "passed"), markers="backups", release=None
    )
    return [drill, stress, nightly, smoke]


def test_smoke_today_stress_yesterday_drill_last_week_decide_with_ages() -> None:
    records = _history(timedelta(days=6))
    rr = decide_release(records, now=NOW, release="REL-9", attestations=[FIREWALL])
    smoke, stress, nightly, drill = records[3], records[1], records[2], records[0]
    assert rr.anchor is not None and rr.anchor.run_id == smoke.run_id
    assert rr.target == "shop.example.com"

    https = rr.item("security.https-only")
    assert (https.status, https.run_id, https.age_text) == ("passed", smoke.run_id, "30 min")
    st = rr.item("testing.stress")
    assert (st.status, st.fresh, st.run_id, st.age_text) == ("passed", True, stress.run_id, "26 h")
    assert st.max_age.text == "7 d"
    for item_id in DRILL_ITEMS:
        d = rr.item(item_id)
        assert (d.status, d.fresh, d.run_id, d.age_text) == ("passed", True, drill.run_id, "6 d")
        assert d.max_age.text == "30 d"
        assert "run " + drill.run_id in d.source_text and "6 d old" in d.source_text
    assert rr.item("backups.automated").run_id == nightly.run_id
    fw = rr.item("security.firewall")
    assert (fw.status, fw.decided_by, fw.age_text) == ("manual", "attestation", "20 d")

    assert rr.verdict == "GO", rr.headline
    assert rr.headline == "GO: every critical item is decided by fresh evidence"
    data = rr.to_dict()
    by_id = {i["id"]: i for i in data["items"]}
    assert by_id["testing.stress"]["age"] == "26 h" and by_id["testing.stress"]["fresh"] is True
    assert by_id["predeploy.disaster-recovery"]["run_id"] == drill.run_id
    assert data["run"]["run_id"] == smoke.run_id and data["verdict"] == "GO"


def test_a_drill_40_days_old_is_stale_and_incomplete() -> None:
    records = _history(timedelta(days=40))
    rr = decide_release(records, now=NOW, release="REL-9", attestations=[FIREWALL])
    for item_id in DRILL_ITEMS:
        d = rr.item(item_id)
        assert d.status == "stale" and not d.satisfied and not d.fresh
        assert d.age_text == "40 d" and d.run_id == records[0].run_id
        assert any("older than its maximum age 30 d" in n for n in d.notes)
    assert rr.verdict == "INCOMPLETE"
    assert rr.headline == (
        "INCOMPLETE: 3 critical items lack fresh evidence: "
        "predeploy.disaster-recovery (stale: 40 d > 30 d), "
        "backups.restore-procedure (stale: 40 d > 30 d), "
        "testing.backup-restore (stale: 40 d > 30 d)"
    )
    assert "passed" not in {rr.item(i).status for i in DRILL_ITEMS}


def test_missing_attestation_and_not_run_items_are_named() -> None:
    records = _history(timedelta(days=6))[1:]  # no drill at all
    rr = decide_release(records, now=NOW)  # and no firewall attestation
    assert rr.verdict == "INCOMPLETE"
    assert "predeploy.disaster-recovery (not run)" in rr.headline
    assert "security.firewall (manual, not attested)" in rr.headline
    assert rr.headline.startswith("INCOMPLETE: 4 critical items lack fresh evidence: ")


def test_smoke_level_items_count_only_the_reports_own_run() -> None:
    old = run_record(NOW - timedelta(hours=3), dict.fromkeys(SMOKE_ITEMS, "passed"))
    today = run_record(NOW - timedelta(minutes=5), {"testing.smoke": "passed"})
    rr = decide_release([old, today], now=NOW)
    https = rr.item("security.https-only")
    assert https.status == "stale" and https.run_id == old.run_id and https.age_text == "3 h"
    assert "counts only the evidence of the run the report is for" in https.notes[0]
    assert rr.item("testing.smoke").status == "passed"


def test_newest_decisive_evidence_wins_and_a_fresh_failure_is_no_go() -> None:
    older = run_record(NOW - timedelta(days=3), {"testing.stress": "passed"}, markers="stress")
    newer = run_record(NOW - timedelta(days=1), {"testing.stress": "failed"}, markers="stress")
    skipped = run_record(NOW - timedelta(hours=1), {"testing.stress": "skipped"}, markers="stress")
    smoke = run_record(NOW, dict.fromkeys(SMOKE_ITEMS, "passed"))
    rr = decide_release([older, newer, skipped, smoke], now=NOW)
    st = rr.item("testing.stress")
    assert (st.status, st.run_id) == ("failed", newer.run_id)
    assert rr.verdict == "NO-GO" and rr.headline == "NO-GO: 1 item failed: testing.stress"


def test_a_waiver_covers_stale_evidence_and_other_targets_do_not_count() -> None:
    records = _history(timedelta(days=40))
    elsewhere = run_record(
        NOW - timedelta(days=1), dict.fromkeys(DRILL_ITEMS, "passed"), url="https://staging.x"
    )
    waivers = [Waiver(i, "drill booked for Monday", "cto", date(2026, 12, 5)) for i in DRILL_ITEMS]
    rr = decide_release(
        [*records, elsewhere], now=NOW, release="REL-9", attestations=[FIREWALL], waivers=waivers
    )
    assert rr.item("backups.restore-procedure").status == "waived"
    assert rr.item("backups.restore-procedure").run_id == records[0].run_id  # not staging's
    assert rr.verdict == "GO-WITH-WAIVERS"


def test_an_expired_attestation_is_stale() -> None:
    old = Attestation("security.firewall", "Jane", NOW - timedelta(days=200), "https://t/1")
    rr = decide_release(_history(timedelta(days=1)), now=NOW, attestations=[old])
    fw = rr.item("security.firewall")
    assert fw.status == "stale" and fw.age_text == "200 d"
    assert any("older than 180 d" in n for n in fw.notes)
    assert "security.firewall (stale: 200 d > attestation expiry)" in rr.headline


def test_team_max_ages_per_item_and_section() -> None:
    policy = AgePolicy.from_settings({"backups": "3d", "predeploy.disaster-recovery": "run"})
    records = _history(timedelta(days=6))
    rr = decide_release(records, now=NOW, policy=policy, attestations=[FIREWALL])
    assert rr.item("backups.restore-procedure").status == "stale"  # section: 3 d
    assert rr.item("testing.backup-restore").status == "passed"  # built-in 30 d
    assert rr.item("predeploy.disaster-recovery").status == "stale"  # this run only
    assert rr.item("backups.automated").max_age.text == "3 d"


@pytest.mark.parametrize(
    ("value", "text"),
    [("7d", "7 d"), ("36h", "36 h"), ("90m", "90 min"), (2, "2 d"), ("run", "this run only")],
)
def test_parse_max_age(value: object, text: str) -> None:
    assert parse_max_age(value, "x").text == text


def test_bad_max_ages_are_one_line_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"'seven days'.*expected a maximum age like '7d'"):
        parse_max_age("seven days", "[history.max_age] testing.stress")
    with pytest.raises(
        ConfigError, match=r"unknown key 'testing.stres' \(did you mean 'testing.stress'"
    ):
        AgePolicy.from_settings({"testing.stres": "3d"})


def test_a_prodcheck_load_run_decides_its_profiles_items() -> None:
    rec = load_record(NOW - timedelta(days=2), [summary("stress", NOW - timedelta(days=2))])
    rr = decide_release([rec], now=NOW, target="shop.example.com")
    st = rr.item("testing.stress")
    assert (st.status, st.decided_by, st.run_id) == ("passed", "load", rec.run_id)
    assert st.evidence[0].startswith("load stress: thresholds met, p95 300 ms, p99 600 ms")
    invalid = load_record(NOW, [summary("stress", NOW, valid=False)])
    assert decide_release([invalid], now=NOW).item("testing.stress").status == "not_run"
