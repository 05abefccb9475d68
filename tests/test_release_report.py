"""release.{json,md,html}: static HTML with SVG trends that fits 1280 px, pasteable Markdown."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pytest_prodcheck.checklist_items import ITEMS
from pytest_prodcheck.evidence import Evidence
from pytest_prodcheck.release import ReleaseReport, decide_release
from pytest_prodcheck.release.to_html import render_release_html
from pytest_prodcheck.release.to_markdown import MAX_BYTES, render_release_markdown
from pytest_prodcheck.release.trends_svg import Point, metric_chart
from pytest_prodcheck.release.write import write_release_reports
from tests._history_env import DRILL_ITEMS, NIGHTLY_ITEMS, SMOKE_ITEMS, run_record, summary

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
LONG_TOKEN = "x" * 3000  # no break opportunity at all
RUNS = 24


def _history(runs: int = RUNS, evidence_lines: int = 60) -> list:
    records = []
    noisy = [
        Evidence(f"header.{n}", "pass", f"value {n} " + "lorem ipsum " * 30, "present")
        for n in range(evidence_lines)
    ] + [Evidence("token", "info", LONG_TOKEN)]
    for n in range(runs):
        when = NOW - timedelta(days=runs - n, hours=1)
        outcomes = dict.fromkeys([*SMOKE_ITEMS, *NIGHTLY_ITEMS, *DRILL_ITEMS], "passed")
        if n % 5 == 3:
            outcomes["security.https-only"] = "failed"
        loads = [
            summary("smoke", when, p95=200 + 5 * n, users=10),
            summary("baseline", when, p95=300 + 3 * n, rps=100 - n / 2),
        ]
        if n % 3 == 0:
            loads.append(summary("stress", when, p95=800 + 20 * n, users=200, ok=n % 6 != 0))
        records.append(
            run_record(
                when,
                {**outcomes, "testing.baseline-load": "passed"},
                loads=loads,
                evidence={"security.https-only": noisy, "predeploy.security-headers": noisy},
            )
        )
    records.append(
        run_record(
            NOW, dict.fromkeys(SMOKE_ITEMS, "passed"), evidence={"security.https-only": noisy}
        )
    )
    return records


@pytest.fixture(scope="module")
def rr() -> ReleaseReport:
    return decide_release(
        _history(),
        now=NOW,
        trend_runs=30,
        problems=["reports/history/x.json: skipped: not valid JSON"],
    )


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.rows: dict[str, dict[str, str | None]] = {}
        self.svgs: list[str] = []
        self._svg_start: int | None = None
        self._raw = ""

    def feed_page(self, page: str) -> None:
        self._raw = page
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = dict(attrs)
        for name, _ in attrs:
            assert not name.startswith("on"), name
        if tag == "tr" and str(a.get("id", "")).startswith("item-"):
            self.rows[str(a["id"])[5:]] = a


def _svgs(page: str) -> list[ET.Element]:
    out = []
    start = 0
    while (i := page.find("<svg", start)) != -1:
        j = page.index("</svg>", i) + len("</svg>")
        out.append(ET.fromstring(page[i:j]))  # each chart is well-formed XML on its own
        start = j
    return out


def test_html_is_static_with_every_item_its_run_and_age(rr: ReleaseReport) -> None:
    page = render_release_html(rr)
    p = _Page()
    p.feed_page(page)
    assert "script" not in p.tags and "link" not in p.tags and "<script" not in page
    assert set(p.rows) == {i.id for i in ITEMS}
    assert p.rows["security.https-only"]["data-status"] == "passed"
    assert p.rows["predeploy.disaster-recovery"]["data-status"] == "passed"
    assert p.rows["predeploy.disaster-recovery"]["data-fresh"] == "true"
    assert 'id="headline"' in page and rr.headline.split(":")[0] in page
    drill = rr.item("predeploy.disaster-recovery")
    assert drill.age_text == "25 h" and "age 25 h</span>" in page
    assert "1 history record(s) skipped" in page
    assert "<details><summary>all " in page  # long evidence folds


def test_trend_charts_parse_and_draw_every_run(rr: ReleaseReport) -> None:
    page = render_release_html(rr)
    svgs = _svgs(page)
    charts = [s for s in svgs if s.get("class") == "trend"]
    # smoke, baseline, stress × p95, p99, req/s, error rate
    assert len(charts) == 12
    labels = [s.get("aria-label") or "" for s in charts]
    assert "baseline p95 over the last 24 runs" in labels
    assert "stress p95 over the last 8 runs" in labels
    p95 = charts[labels.index("baseline p95 over the last 24 runs")]
    dots = p95.findall(f"{SVG}circle")
    assert len(dots) == 24
    assert [float(c.get("data-value", "nan")) for c in dots][:3] == [300.0, 303.0, 306.0]
    assert all(c.find(f"{SVG}title") is not None for c in dots)  # hover text, no script
    stress = charts[labels.index("stress p95 over the last 8 runs")]
    red = [c for c in stress.findall(f"{SVG}circle") if c.get("fill") == "#c62828"]
    assert len(red) == 4  # the failed stress runs stand out
    [matrix] = [s for s in svgs if s.get("class") == "matrix"]
    cells = matrix.findall(f"{SVG}rect")
    assert len(cells) == len(ITEMS) * (RUNS + 1)  # every run with a checklist report
    failed = {c.get("data-status") for c in cells}
    assert {"passed", "failed", "not_run"} <= failed
    for s in svgs:
        assert float(s.get("width", "0")) <= 1200  # and CSS scales them down further


def test_metric_chart_gaps_and_empty() -> None:
    svg = ET.fromstring(
        metric_chart("p95", "ms", [Point("a", 1.0), Point("b", None), Point("c", 3.0)])
    )
    assert len(svg.findall(f"{SVG}circle")) == 2
    assert svg.findall(f"{SVG}polyline") == []  # no line across a missing value
    empty = ET.fromstring(metric_chart("p95", "ms", []))
    assert "no data" in "".join(empty.itertext())


def test_markdown_is_pasteable_and_summarised(rr: ReleaseReport) -> None:
    md = render_release_markdown(rr)
    assert len(md.encode()) <= MAX_BYTES
    lines = md.splitlines()
    assert lines[0] == f"# Release readiness: {rr.verdict}"
    for item in ITEMS:
        assert sum(1 for ln in lines if ln.startswith("| ") and f"`{item.id}`" in ln) == 1
    row = next(ln for ln in lines if "`security.https-only`" in ln)
    assert "more lines: see release.html#item-security.https-only" in row
    assert LONG_TOKEN not in md and "<script" not in md
    assert "age 25 h (max 30 d)" in next(
        ln for ln in lines if "`predeploy.disaster-recovery`" in ln
    )


def test_markdown_shrinks_until_it_fits() -> None:
    huge = decide_release(_history(runs=3, evidence_lines=400), now=NOW)
    huge_items = [
        r.__class__(**{**r.__dict__, "evidence": tuple(f"{n} " + "y" * 190 for n in range(40))})
        for r in huge.items
    ]
    big = huge.__class__(**{**huge.__dict__, "items": tuple(huge_items)})
    md = render_release_markdown(big)
    assert len(md.encode()) <= MAX_BYTES
    assert sum(1 for ln in md.splitlines() if ln.startswith("| ") and "`" in ln) == len(ITEMS)


def test_write_release_reports(rr: ReleaseReport, tmp_path: Path) -> None:
    paths = write_release_reports(rr, tmp_path / "out")
    assert [p.name for p in paths] == ["release.json", "release.md", "release.html"]
    data = json.loads(paths[0].read_text())
    assert data["schema_version"] == 1 and data["verdict"] == rr.verdict
    assert len(data["items"]) == len(ITEMS) and data["skipped_records"]
    assert {"run_id", "at_utc", "age", "age_s", "max_age", "fresh"} <= set(data["items"][0])


# --- a real browser: the page fits a 1280 px window -------------------------------------------

_PROBE = (
    "<script>document.body.setAttribute('data-probe', "
    "document.documentElement.scrollWidth + 'x' + window.innerWidth)</script>"
)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, (
        "chromium is needed for this test: apt-get install chromium (scripts/bootstrap does)"
    )
    return found


def _browser(args: list[str], work: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Headless chromium in its own process group, always reaped (no child outlives the test)."""
    cmd = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--hide-scrollbars", "--no-first-run", "--disable-extensions", "--mute-audio",
        f"--user-data-dir={work / 'profile'}", "--window-size=1280,900", *args,
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "HOME": str(work)},
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # renderer/zygote/gpu children too
        proc.wait()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _scroll_width(page: str, work: Path) -> tuple[int, int]:
    probe = work / "probe.html"
    probe.write_text(page.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    done = _browser(["--dump-dom", probe.as_uri()], work)
    marker = 'data-probe="'
    assert marker in done.stdout, f"chromium wrote no DOM: {done.stderr[-500:]}"
    value = done.stdout.split(marker, 1)[1].split('"', 1)[0]
    scroll, inner = value.split("x")
    return int(scroll), int(inner)


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", head[16:24])
    return w, h


@pytest.fixture
def work() -> object:
    path = Path(tempfile.mkdtemp(prefix="prodcheck-browser-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_release_html_fits_1280px_in_a_real_browser(rr: ReleaseReport, work: Path) -> None:
    page = render_release_html(rr)
    scroll, inner = _scroll_width(page, work)
    assert inner == 1280
    assert scroll <= 1280, f"the page scrolls sideways: scrollWidth {scroll} px"
    # the probe does see overflow when there is some (so the check above can fail)
    wide = page.replace("<body>", '<body><div style="width:2000px">wide</div>', 1)
    assert _scroll_width(wide, work)[0] >= 2000
    shot = work / "release.png"
    (work / "release.html").write_text(page, encoding="utf-8")
    done = _browser([f"--screenshot={shot}", (work / "release.html").as_uri()], work)
    assert shot.is_file(), done.stderr[-500:]
    assert _png_size(shot) == (1280, 900)


def test_checklist_html_fits_1280px_too(work: Path) -> None:
    from pytest_prodcheck.checklist import TestRecord
    from pytest_prodcheck.report import RunMeta, build_report, render_html

    meta = RunMeta(
        target="external", target_url="https://shop.example.com/" + "p" * 400,
        started_utc=NOW, finished_utc=NOW, command_line="pytest " + "-k " * 300,
    )  # fmt: skip
    ev = [Evidence("e", "pass", LONG_TOKEN)] + [
        Evidence(f"h{n}", "pass", "v " * 80) for n in range(30)
    ]
    tests = [TestRecord("suites/test_http.py::test_" + "z" * 300, "passed", 0.1)] * 8
    report = build_report(meta, {"security.https-only": tests}, {"security.https-only": ev}, [], [])
    scroll, _ = _scroll_width(render_html(report), work)
    assert scroll <= 1280, f"checklist.html scrolls sideways: scrollWidth {scroll} px"
