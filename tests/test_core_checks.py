"""core/checks: the check-table type (ids, lookup, selection, groups, guarding, shared inputs),
and every area's table links only to checklist items that exist."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from pytest_prodcheck.acme.check_table import ACME_CHECKS
from pytest_prodcheck.backup.check_table import BACKUP_CHECKS
from pytest_prodcheck.checklist_items import ITEMS
from pytest_prodcheck.core.checks import CheckSpec, CheckTable, Shared, guard
from pytest_prodcheck.core.errors import ConfigError, ToolError
from pytest_prodcheck.core.result import CheckResult
from pytest_prodcheck.probes.monitoring_checks import MONITORING_CHECKS
from pytest_prodcheck.probes.pooling_checks import POOLING_CHECKS
from pytest_prodcheck.probes.security_checks import SECURITY_CHECKS
from pytest_prodcheck.probes.site_checks import SITE_CHECKS


def _ok(cid: str) -> CheckSpec[int]:
    return CheckSpec(cid, lambda n: CheckResult.judge(cid, n > 0, str(n), "> 0"), "numbers")


def test_table_ids_get_select_groups_items():
    table = CheckTable(
        "demo",
        [
            _ok("a.one"),
            CheckSpec("a.two", lambda n: CheckResult.passed("a.two", "", ""), "site",
                      items=("x.y",), markers=("smoke",)),
            _ok("a.three"),
        ],
    )  # fmt: skip
    assert table.ids() == ("a.one", "a.two", "a.three")
    assert len(table) == 3 and "a.two" in table and "a.nope" not in table
    assert table.get("a.two").items == ("x.y",)
    assert [s.id for s in table.select({"a.three", "a.one"})] == ["a.one", "a.three"]
    assert table.select(None) == tuple(table)
    assert [s.id for s in table.marked("smoke")] == ["a.two"]
    assert {g: [s.id for s in specs] for g, specs in table.by_group().items()} == {
        "numbers": ["a.one", "a.three"],
        "site": ["a.two"],
    }
    assert table.items() == {"x.y"}
    assert table.get("a.one").run(1).status == "pass"
    assert table.get("a.one").run(0).status == "fail"


def test_unknown_ids_are_one_clear_config_error():
    table = CheckTable("demo", [_ok("a.one")])
    with pytest.raises(ConfigError, match=r"unknown demo check id: a.nope \(known: a.one\)"):
        table.get("a.nope")
    with pytest.raises(ConfigError, match="unknown check id"):
        table.select({"a.one", "a.nope"})


def test_duplicate_or_empty_ids_are_refused():
    with pytest.raises(ValueError, match=r"'a\.one' appears twice"):
        CheckTable("demo", [_ok("a.one"), _ok("a.one")])
    with pytest.raises(ValueError, match="needs an id and a group"):
        CheckTable("demo", [_ok("")])


def test_guard_turns_what_a_check_raises_into_an_error_result():
    def tool() -> CheckResult:
        raise ToolError("sslyze missing")

    def bug() -> CheckResult:
        raise KeyError("x")

    assert guard("t.a", tool) == CheckResult.errored("t.a", "sslyze missing")
    assert guard("t.b", bug).message == "KeyError: 'x'"
    spec: CheckSpec[int] = CheckSpec(
        "t.c", lambda n: CheckResult.passed("t.c", str(1 // n), ""), "g"
    )
    assert spec.guarded(0).status == "error" and "ZeroDivisionError" in spec.guarded(0).message


def test_shared_computes_once_across_threads_and_keeps_its_error():
    calls: list[int] = []
    gate = threading.Event()

    def compute() -> int:
        gate.wait(1)
        calls.append(1)
        return 42

    shared = Shared(compute)
    threads = [threading.Thread(target=shared.get) for _ in range(4)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join()
    assert shared.get() == 42 and calls == [1]

    failures: list[int] = []

    def broken() -> int:
        failures.append(1)
        raise ToolError("scan failed")

    bad = Shared(broken)
    for _ in range(2):
        with pytest.raises(ToolError, match="scan failed"):
            bad.get()
    assert failures == [1]


# every table of every area: add new tables here
TABLES: list[CheckTable[object]] = [  # type: ignore[list-item]
    SITE_CHECKS,
    MONITORING_CHECKS,
    SECURITY_CHECKS,
    POOLING_CHECKS,
    BACKUP_CHECKS,
    ACME_CHECKS,
]


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.area)
def test_every_table_links_only_to_existing_checklist_items(table: CheckTable[object]) -> None:
    known = {item.id for item in ITEMS}
    assert sorted(table.items() - known) == []


def test_check_ids_are_unique_across_tables():
    ids = [cid for table in TABLES for cid in table.ids()]
    assert len(ids) == len(set(ids))


def test_site_table_drives_the_suites_and_runner():
    assert SITE_CHECKS.ids()[:2] == ("tls.protocols", "tls.ciphers")
    tls_rows = {s.id for s in SITE_CHECKS.marked("tls")}
    http_rows = {s.id for s in SITE_CHECKS.marked("http")}
    assert tls_rows | http_rows == set(SITE_CHECKS.ids()) and not tls_rows & http_rows
    assert {s.id for s in SITE_CHECKS if "smoke" not in s.markers} == {
        "tls.ocsp-stapling",
        "http.rate-limit",
    }
    assert [s.id for s in SITE_CHECKS.by_group()["burst"]] == ["http.rate-limit"]


# --- the area tables: what the suites used to state by hand, now derived -------------------------

AREA_MARKERS = {
    MONITORING_CHECKS: "monitoring",
    SECURITY_CHECKS: "security",
    POOLING_CHECKS: "pooling",
    BACKUP_CHECKS: "backups",
    ACME_CHECKS: "acme",
}


@pytest.mark.parametrize("table", list(AREA_MARKERS), ids=lambda t: t.area)
def test_every_area_row_carries_its_area_marker_and_links_an_item(table) -> None:
    for spec in table:
        assert AREA_MARKERS[table] in spec.markers, spec.id
        assert spec.items and spec.title, spec.id


def test_smoke_rows_are_the_suites_former_smoke_tests() -> None:
    def smoke(table: CheckTable[object]) -> set[str]:
        return {s.id for s in table.marked("smoke")}

    assert smoke(MONITORING_CHECKS) == {"monitoring.app-metrics"}
    assert smoke(SECURITY_CHECKS) == {
        "security.https-only",
        "security.cors",
        "security.cookies",
        "security.monitoring-protected",
        "security.admin-ports",
        "security.env-file",
    }
    assert smoke(POOLING_CHECKS) == set(POOLING_CHECKS.ids()) - {"pgbouncer.overhead"}
    assert smoke(BACKUP_CHECKS) == {
        f"backup.{c}.{k}" for c in ("fresh", "restorable") for k in ("main", "ai")
    }
    assert smoke(ACME_CHECKS) == {"acme.issuer", "acme.remaining-lifetime"}
    assert [s.id for s in POOLING_CHECKS.by_group()["console"]] == ["pgbouncer.prepared-statements"]


def test_missing_configuration_names_the_key_to_set() -> None:
    from pytest_prodcheck.backup.check_table import BackupSite
    from pytest_prodcheck.backup.settings import BackupConfig
    from pytest_prodcheck.config import Settings
    from pytest_prodcheck.probes.monitoring_checks import MonitoringInputs
    from pytest_prodcheck.probes.pooling_checks import PoolingInputs
    from pytest_prodcheck.probes.security_checks import SecurityInputs
    from pytest_prodcheck.stack.endpoints import Endpoints, MissingEndpoint

    bare, settings = Endpoints(target="external"), Settings(target="external")
    cases = [
        (lambda: MONITORING_CHECKS.get("monitoring.uptime").run(MonitoringInputs(bare, settings)),
         "uptime_url is not configured: set [monitoring] uptime_url"),
        (lambda: SECURITY_CHECKS.get("security.admin-ports").run(SecurityInputs(bare, settings)),
         "no public address to probe: set [security] public_address"),
        (lambda: SECURITY_CHECKS.get("security.firewall").run(SecurityInputs(bare, settings)),
         "pass --prodcheck-host-checks"),
        (lambda: POOLING_CHECKS.get("postgres.seq-scans").run(PoolingInputs(bare, settings)),
         "postgres_dsn is not configured: set [database] dsn"),
        (lambda: POOLING_CHECKS.get("pgbouncer.prepared-statements").run(
            PoolingInputs(bare, settings)),
         "pgbouncer_admin_dsn is not configured: set [pgbouncer] admin_dsn"),
        (lambda: BACKUP_CHECKS.get("backup.fresh.ai").run(
            BackupSite(BackupConfig(None, None, None, Path("/nonexistent")), None, None)),  # type: ignore[arg-type]
         "no ai database: set [database] ai_dsn"),
    ]  # fmt: skip
    for run, message in cases:
        with pytest.raises(MissingEndpoint, match=re.escape(message)):
            run()
