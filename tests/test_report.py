"""Golden-structure tests of the three report formats (JSON schema, Markdown, static HTML)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_prodcheck.checklist import CHECKLIST, SECTION_TITLES, Attestation, TestRecord, Waiver
from pytest_prodcheck.evidence import Evidence
from pytest_prodcheck.report import (
    Report,
    RunMeta,
    build_report,
    render_html,
    render_markdown,
    write_reports,
)

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def report() -> Report:
    meta = RunMeta(
        target="external",
        target_url="https://shop.example.com",
        started_utc=T0,
        finished_utc=T0 + timedelta(seconds=75),
        command_line="pytest -m smoke --prodcheck-release REL-9",
        marker_expression="smoke",
        release="REL-9",
        commit="0123abcd",
        tests_run=4,
    )
    tests = {
        "security.https-only": [TestRecord("suites/test_tls.py::test_redirect", "passed", 0.2)],
        "performance.gzip": [
            TestRecord("suites/test_http.py::test_gzip", "failed", 0.1, "no | gzip")
        ],
        "performance.pgbouncer": [
            TestRecord("suites/test_pool.py::test_cap", "skipped", 0.0, "no dsn")
        ],
        "testing.smoke": [TestRecord("suites/test_load.py::test_smoke", "passed", 30.0)],
    }
    evidence = {
        "testing.smoke": [Evidence("p(95)", "pass", "312 ms", "< 1000 ms", source="load")],
        "performance.gzip": [Evidence("gzip <b>", "fail", "identity", "gzip")],
    }
    waivers = [
        Waiver("performance.cdn", "no CDN yet", "cto", date(2027, 1, 1)),
        Waiver("security.waf", "old", "sec", date(2026, 1, 1)),
    ]
    atts = [Attestation("security.firewall", "Jane", T0, "https://t/OPS-1", "ufw")]
    return build_report(meta, tests, evidence, waivers, atts)


def test_json_schema(report: Report, tmp_path: Path) -> None:
    write_reports(report, tmp_path)
    data = json.loads((tmp_path / "checklist.json").read_text(encoding="utf-8"))
    assert set(data) >= {
        "schema_version",
        "run",
        "verdict",
        "counts",
        "coverage",
        "items",
        "sections",
    }
    assert data["schema_version"] == 1
    assert data["verdict"] == "NO-GO"
    run = data["run"]
    for key in (
        "target",
        "tool_version",
        "started_utc",
        "finished_utc",
        "command_line",
        "marker_expression",
        "release",
        "commit",
    ):
        assert key in run
    assert run["started_utc"] == "2026-11-28T12:00:00Z" and run["duration_s"] == 75.0
    assert [i["id"] for i in data["items"]] == [i.id for i in CHECKLIST]
    statuses = {
        "passed",
        "failed",
        "error",
        "skipped",
        "not_run",
        "manual",
        "waived",
        "not_applicable",
    }
    for item in data["items"]:
        assert set(item) >= {"id", "section", "title", "severity", "status", "evidence", "tests"}
        assert item["status"] in statuses
        for t in item["tests"]:
            assert set(t) >= {"nodeid", "outcome", "duration_s"}
        for e in item["evidence"]:
            assert set(e) >= {"name", "observed", "expected", "source", "status"}
    assert (
        sum(v for k, v in data["counts"].items() if k != "total") == data["counts"]["total"] == 51
    )
    by_id = {i["id"]: i for i in data["items"]}
    assert by_id["performance.cdn"]["status"] == "waived"
    assert by_id["security.firewall"]["attestation"]["by"] == "Jane"
    assert data["expired_waivers"][0]["item"] == "security.waf"


def test_markdown_pastes_into_a_ticket(report: Report) -> None:
    md = render_markdown(report)
    lines = md.splitlines()
    assert lines[0] == "# Production readiness: NO-GO — partial: 5 of 51 items decided"
    assert "- **Release:** REL-9" in lines and "- **Commit:** 0123abcd" in lines
    assert "- **Marker expression:** smoke" in lines
    assert "- **Command:** `pytest -m smoke --prodcheck-release REL-9`" in lines
    for title in SECTION_TITLES.values():
        assert f"## {title}" in lines
    for item in CHECKLIST:
        assert sum(1 for ln in lines if ln.startswith("| ") and f"`{item.id}`" in ln) == 1
    gzip_row = next(ln for ln in lines if "`performance.gzip`" in ln)
    assert "failed: no \\| gzip" in gzip_row
    assert gzip_row.count(" | ") == 4  # pipes inside cells are escaped
    assert "p(95): 312 ms (expected < 1000 ms) pass" in md  # a bare "<" stays readable
    assert "gzip &lt;b>" in md and "<b>" not in md  # a tag in evidence is not rendered as HTML
    assert "security.waf" in md and "Expired waivers" in md


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.rows: dict[str, str] = {}
        self.text: list[str] = []
        self._row: str | None = None
        self.verdict = ""
        self._in_verdict = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "tr" and (a.get("id") or "").startswith("item-"):
            self.rows[str(a["id"])[5:]] = str(a.get("data-status"))
        if a.get("id") == "verdict":
            self._in_verdict = True
        for name, value in attrs:
            assert not name.startswith("on"), f"event handler {name}={value}"

    def handle_endtag(self, tag: str) -> None:
        self._in_verdict = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_verdict:
            self.verdict += data


def test_html_is_static_and_complete(report: Report) -> None:
    page = render_html(report)
    parser = _Collector()
    parser.feed(page)
    assert "script" not in parser.tags
    assert "link" not in parser.tags and "http-equiv" not in page  # self-contained
    assert parser.verdict == "NO-GO"
    assert set(parser.rows) == {i.id for i in CHECKLIST}
    assert parser.rows["performance.gzip"] == "failed"
    assert parser.rows["performance.cdn"] == "waived"
    assert parser.tags.count("table") == 7  # metadata + six sections
    assert parser.tags.count("svg") == 1 and parser.tags.count("rect") >= 6
    text = " ".join(parser.text)
    assert "gzip <b>" in text  # escaped, shown as text
    assert "<b>" not in page.replace("&lt;b&gt;", "")
    assert "p(95): 312 ms (expected < 1000 ms) pass" in text
    assert "attested by Jane on 2026-11-28: " in text
    assert '<a href="https://t/OPS-1">https://t/OPS-1</a> — ufw' in page  # evidence is a link
    for title in SECTION_TITLES.values():
        assert title in text
    assert "REL-9" in text and "0123abcd" in text and "pytest -m smoke" in text


def test_write_reports_into_unwritable_dir(report: Report, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    from pytest_prodcheck.core.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot write the report"):
        write_reports(report, tmp_path / "file" / "sub")
