"""Build history records the way a run would: a real report (build_report) + load summaries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pytest_prodcheck.checklist import Attestation, TestRecord, Waiver
from pytest_prodcheck.evidence import Evidence
from pytest_prodcheck.history.records import HistoryRecord, iso, make_record
from pytest_prodcheck.report import RunMeta, build_report

# what a `pytest -m smoke` run of the suite decides (critical smoke-level items included)
SMOKE_ITEMS = (
    "predeploy.strong-passwords",
    "predeploy.ssl-certificates",
    "security.default-passwords",
    "security.https-only",
    "backups.test-script",
    "testing.ssl-configuration",
    "testing.smoke",
)
NIGHTLY_ITEMS = ("predeploy.backup-schedule", "backups.automated")
DRILL_ITEMS = ("backups.restore-procedure", "testing.backup-restore", "predeploy.disaster-recovery")


def summary(
    name: str,
    finished: datetime,
    *,
    p95: float = 300.0,
    p99: float = 600.0,
    rps: float = 100.0,
    error_rate: float = 0.001,
    users: int = 50,
    ok: bool = True,
    valid: bool = True,
) -> dict[str, Any]:
    """A ``summary.json`` dict as :func:`pytest_prodcheck.load.report.summary_dict` writes it."""
    return {
        "schema_version": 1,
        "name": name,
        "profile": {"name": name, "users": users, "run_time_s": 600.0, "spawn_rate": 5.0},
        "shape": None,
        "finished_utc": iso(finished),
        "ok": ok,
        "valid": valid,
        "stats": {
            "rps": rps,
            "duration_s": 600.0,
            "groups": {
                "all": {
                    "requests": 60000,
                    "failures": int(60000 * error_rate),
                    "error_rate": error_rate,
                    "p50_ms": p95 / 3,
                    "p95_ms": p95,
                    "p99_ms": p99,
                    "max_ms": p99 * 2,
                }
            },
        },
    }


def run_record(
    finished: datetime,
    outcomes: Mapping[str, str],
    *,
    markers: str = "smoke",
    release: str | None = "REL-9",
    target: str = "external",
    url: str = "https://shop.example.com",
    loads: Sequence[dict[str, Any]] = (),
    evidence: Mapping[str, Sequence[Evidence]] | None = None,
    attestations: Sequence[Attestation] = (),
    waivers: Sequence[Waiver] = (),
    baseline_profiles: Sequence[str] = (),
    duration: timedelta = timedelta(minutes=3),
) -> HistoryRecord:
    """A record of a run whose linked tests had ``outcomes`` ({item id: outcome})."""
    meta = RunMeta(
        target=target,
        target_url=url,
        started_utc=finished - duration,
        finished_utc=finished,
        command_line=f"pytest -m {markers}",
        marker_expression=markers,
        release=release,
        commit="0123abcd",
        tests_run=len(outcomes),
    )
    tests = {
        item: [TestRecord(f"suites/test_x.py::test_{item.replace('.', '_')}", outcome, 0.5)]  # type: ignore[arg-type]
        for item, outcome in outcomes.items()
    }
    ev = {k: list(v) for k, v in (evidence or {}).items()}
    for item in outcomes:
        ev.setdefault(item, [Evidence(f"{item}.check", "pass", "ok", "ok", source="suite")])
    report = build_report(meta, tests, ev, waivers, attestations)
    return make_record(
        report.to_dict(),
        [(s, f"reports/load/{s['name']}/summary.json") for s in loads],
        baseline_profiles=baseline_profiles,
    )


def load_record(
    finished: datetime,
    loads: Sequence[dict[str, Any]],
    *,
    record_baseline: bool = False,
    target: str = "shop.example.com",
) -> HistoryRecord:
    """A ``prodcheck load`` run (no checklist report)."""
    return make_record(
        None,
        [(s, f"reports/load/{s['name']}/summary.json") for s in loads],
        kind="load",
        target_name=target,
        finished_utc=finished,
        baseline_profiles=[s["name"] for s in loads] if record_baseline else [],
    )
