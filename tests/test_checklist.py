"""The checklist: ids, waivers (expiry), attestations, item status rules and the verdict."""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from pytest_prodcheck.checklist import (
    CHECKLIST,
    SECTIONS,
    Attestation,
    ItemResult,
    TestRecord,
    Waiver,
    append_attestation,
    decide_verdict,
    load_attestations,
    load_waivers,
    resolve_items,
)
from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.evidence import Evidence

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def t(outcome: str, nodeid: str = "suites/test_x.py::test_a", message: str = "") -> TestRecord:
    return TestRecord(nodeid, outcome, 0.5, message)  # type: ignore[arg-type]


def resolve(
    tests=None, evidence=None, waivers=(), attestations=(), max_age=180
) -> dict[str, ItemResult]:
    results = resolve_items(tests or {}, evidence or {}, waivers, attestations, NOW, max_age)
    return {r.item.id: r for r in results}


def test_fifty_one_items_in_six_sections_with_unique_ids() -> None:
    ids = [i.id for i in CHECKLIST]
    assert len(ids) == 51 == len(set(ids))
    assert SECTIONS == ("predeploy", "security", "monitoring", "performance", "backups", "testing")
    counts = {s: sum(1 for i in CHECKLIST if i.section == s) for s in SECTIONS}
    assert counts == {
        "predeploy": 10,
        "security": 10,
        "monitoring": 8,
        "performance": 8,
        "backups": 7,
        "testing": 8,
    }
    assert all(
        i.title and i.rationale and i.severity in ("critical", "high", "medium", "low")
        for i in CHECKLIST
    )


# --- status rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [
        (["passed", "passed"], "passed"),
        (["passed", "failed"], "failed"),
        (["error", "failed"], "failed"),
        (["passed", "error"], "error"),
        (["skipped", "skipped"], "skipped"),
        (["passed", "skipped"], "passed"),
    ],
)
def test_linked_tests_decide(outcomes: list[str], status: str) -> None:
    tests = [
        t(o, f"s.py::t{n}", "no endpoint" if o == "skipped" else "") for n, o in enumerate(outcomes)
    ]
    r = resolve({"performance.gzip": tests})["performance.gzip"]
    assert r.status == status
    assert r.decided == (status != "skipped")
    if "skipped" in outcomes:
        assert any(e.name == "skipped" and e.observed == "no endpoint" for e in r.evidence)


def test_never_exercised_items_are_not_run_or_manual() -> None:
    results = resolve()
    assert results["testing.stress"].status == "not_run"
    assert results["security.firewall"].status == "manual"
    assert not results["security.firewall"].satisfied
    assert not any(r.status == "passed" for r in results.values())


def test_all_na_evidence_makes_item_not_applicable() -> None:
    ev = [Evidence("tls.ocsp", "n/a", "n/a", message="no OCSP URL")]
    r = resolve({"performance.gzip": [t("passed")]}, {"performance.gzip": ev})["performance.gzip"]
    assert r.status == "not_applicable" and r.satisfied


# --- attestations ------------------------------------------------------------------------------


def att(item: str = "security.firewall", days_ago: int = 1, applicable: bool = True) -> Attestation:
    return Attestation(
        item, "Jane", NOW - timedelta(days=days_ago), "https://t/OPS-1", "", applicable
    )


def test_attestation_satisfies_manual_item() -> None:
    r = resolve(attestations=[att()])["security.firewall"]
    assert (r.status, r.satisfied, r.decided_by) == ("manual", True, "attestation")
    assert r.attestation is not None and r.attestation.by == "Jane"


def test_attestation_not_applicable() -> None:
    assert (
        resolve(attestations=[att(applicable=False)])["security.firewall"].status
        == "not_applicable"
    )


def test_stale_attestation_no_longer_counts() -> None:
    r = resolve(attestations=[att(days_ago=200)], max_age=180)["security.firewall"]
    assert (r.status, r.satisfied) == ("manual", False)
    assert any("older than 180 days" in n for n in r.notes)


def test_newest_attestation_wins() -> None:
    old = att(days_ago=5, applicable=False)
    new = att(days_ago=1)
    assert resolve(attestations=[new, old])["security.firewall"].status == "manual"


def test_future_attestation_is_ignored_and_does_not_shadow_a_valid_one() -> None:
    valid = att(days_ago=5, applicable=False)
    future = att(days_ago=-30)
    r = resolve(attestations=[valid, future])["security.firewall"]
    assert (r.status, r.attestation) == ("not_applicable", valid)
    assert any("in the future; ignored" in n for n in r.notes)
    alone = resolve(attestations=[future])["security.firewall"]
    assert (alone.status, alone.satisfied, alone.decided) == ("manual", False, False)
    # a few hours of clock skew is tolerated
    skewed = Attestation("security.firewall", "Jane", NOW + timedelta(hours=12), "https://t/1")
    assert resolve(attestations=[skewed])["security.firewall"].satisfied


def test_tests_supersede_attestation_for_host_checks() -> None:
    r = resolve({"security.firewall": [t("failed")]}, attestations=[att()])["security.firewall"]
    assert r.status == "failed"
    assert any("superseded" in n for n in r.notes)


# --- waivers -----------------------------------------------------------------------------------


def waiver(item: str = "performance.gzip", expires: date = date(2026, 12, 31)) -> Waiver:
    return Waiver(item, "CDN compresses", "ops-lead", expires)


def test_valid_waiver_waives_a_failure() -> None:
    r = resolve({"performance.gzip": [t("failed")]}, waivers=[waiver()])["performance.gzip"]
    assert (r.status, r.satisfied, r.decided_by) == ("waived", True, "waiver")
    assert any("would be failed" in n for n in r.notes)


def test_waiver_valid_through_its_expiry_day() -> None:
    w = waiver(expires=NOW.date())
    assert (
        resolve({"performance.gzip": [t("failed")]}, waivers=[w])["performance.gzip"].status
        == "waived"
    )


def test_expired_waiver_is_ignored_and_reported() -> None:
    w = waiver(expires=NOW.date() - timedelta(days=1))
    r = resolve({"performance.gzip": [t("failed")]}, waivers=[w])["performance.gzip"]
    assert r.status == "failed" and r.waiver is None
    assert any("expired on 2026-11-27" in n for n in r.notes)


def test_waiver_not_needed_when_passing() -> None:
    r = resolve({"performance.gzip": [t("passed")]}, waivers=[waiver()])["performance.gzip"]
    assert r.status == "passed" and r.waiver is None
    assert any("not needed" in n for n in r.notes)


def test_waiver_covers_unattested_manual_item() -> None:
    assert resolve(waivers=[waiver("security.waf")])["security.waf"].status == "waived"


# --- verdict -----------------------------------------------------------------------------------


def verdict(tests=None, waivers=(), attestations=()):
    return decide_verdict(resolve_items(tests or {}, {}, waivers, attestations, NOW))


def test_go_when_everything_in_scope_passed_but_coverage_incomplete() -> None:
    v = verdict({"performance.gzip": [t("passed")], "security.cors": [t("passed")]})
    assert v.value == "GO"
    assert (v.coverage.decided, v.coverage.total, v.coverage.complete) == (2, 51, False)
    assert any("covers 2 of 51" in r for r in v.reasons)


def test_no_go_on_any_failure_even_low_severity() -> None:
    v = verdict({"performance.gzip": [t("passed")], "performance.cdn": [t("failed")]})
    assert v.value == "NO-GO" and any("low item performance.cdn failed" in r for r in v.reasons)


def test_no_go_on_critical_error() -> None:
    v = verdict({"predeploy.ssl-certificates": [t("error")]})
    assert v.value == "NO-GO" and "critical item predeploy.ssl-certificates error" in v.reasons


def test_go_with_waivers() -> None:
    v = verdict({"performance.gzip": [t("failed")], "security.cors": [t("passed")]}, [waiver()])
    assert v.value == "GO-WITH-WAIVERS"


def test_nothing_decided_is_no_go() -> None:
    v = verdict({"performance.gzip": [t("skipped")]})
    assert v.value == "NO-GO" and any("nothing verified" in r for r in v.reasons)


def test_full_coverage_go() -> None:
    tests = {i.id: [t("passed")] for i in CHECKLIST if i.automated}
    atts = [att(i.id) for i in CHECKLIST if not i.automated]
    v = verdict(tests, attestations=atts)
    assert v.value == "GO" and v.coverage.complete and v.reasons == ()


# --- files -------------------------------------------------------------------------------------


def test_load_waivers(tmp_path: Path) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text(
        '[[waiver]]\nitem = "performance.cdn"\njustification = "no CDN yet"\nowner = "cto"\n'
        "expires = 2026-12-31\n"
        '[[waiver]]\nitem = "security.waf"\njustification = "later"\nowner = "sec"\n'
        'expires = "2027-01-15"\n',
        encoding="utf-8",
    )
    ws = load_waivers(path)
    assert [(w.item, w.expires) for w in ws] == [
        ("performance.cdn", date(2026, 12, 31)),
        ("security.waf", date(2027, 1, 15)),
    ]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            'item = "performance.cnd"\njustification = "x"\nowner = "o"\nexpires = 2026-12-31',
            "did you mean 'performance.cdn'",
        ),
        (
            'item = "performance.cdn"\nowner = "o"\nexpires = 2026-12-31',
            "justification must be a non-empty string",
        ),
        (
            'item = "performance.cdn"\njustification = "x"\nowner = "o"\nexpires = "soon"',
            "expires must be a date",
        ),
        (
            'item = "performance.cdn"\njustification = "x"\nowner = "o"\nexpires = 2026-12-31\nrun = false',
            "unknown key 'run'",
        ),
    ],
)
def test_bad_waivers(tmp_path: Path, body: str, fragment: str) -> None:
    path = tmp_path / "waivers.toml"
    path.write_text(f"[[waiver]]\n{body}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="waiver #1") as info:
        load_waivers(path)
    assert fragment in str(info.value)


def test_append_and_load_attestations(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "attestations.toml"
    append_attestation(path, att())
    append_attestation(
        path, Attestation("security.waf", 'Bob "B"', NOW, "https://t/2", "note\nline", False)
    )
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert len(data["attestation"]) == 2
    loaded = load_attestations(path)
    assert loaded[1].by == 'Bob "B"' and loaded[1].note == "note\nline" and not loaded[1].applicable
    assert loaded[0].at == (NOW - timedelta(days=1))


@pytest.mark.parametrize(
    ("a", "fragment"),
    [
        (Attestation("security.https-only", "J", NOW, "https://t/1"), "is automated"),
        (Attestation("security.firewal", "J", NOW, "https://t/1"), "did you mean"),
        (Attestation("security.firewall", "J", NOW, "see wiki"), "http(s) URL"),
        (Attestation("security.firewall", " ", NOW, "https://t/1"), "--by"),
    ],
)
def test_append_attestation_validates(tmp_path: Path, a: Attestation, fragment: str) -> None:
    path = tmp_path / "attestations.toml"
    with pytest.raises(ConfigError) as info:
        append_attestation(path, a)
    assert fragment in str(info.value)
    assert not path.exists()


def test_append_refuses_broken_file_and_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "attestations.toml"
    path.write_text("this is = = broken", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        append_attestation(path, att())
    assert path.read_text(encoding="utf-8") == "this is = = broken"


def test_attestation_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(
        '[[attestation]]\nitem = "security.firewall"\nby = "J"\nat = "yesterday"\nevidence = "https://x/1"\n'
    )
    with pytest.raises(ConfigError, match="at must be a date-time"):
        load_attestations(path)
    path.write_text(
        '[[attestation]]\nitem = "security.https-only"\nby = "J"\nat = 2026-01-01\nevidence = "https://x/1"\n'
    )
    with pytest.raises(ConfigError, match="is automated"):
        load_attestations(path)


def test_attestation_evidence_with_credentials_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(
        '[[attestation]]\nitem = "security.firewall"\nby = "J"\nat = 2026-01-01\n'
        'evidence = "https://ops:hunter2@tickets.example.com/OPS-1"\n'
    )
    with pytest.raises(ConfigError, match="carries credentials") as info:
        load_attestations(path)
    assert "hunter2" not in str(info.value)
