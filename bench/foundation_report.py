"""Foundation overheads: per-test plugin cost and report build/render time.

    .venv/bin/python bench/foundation_report.py            # prints a Markdown table

1. A generated suite of N trivial tests, each linked to a checklist item and recording 3 pieces of
   evidence, run with the plugin and with ``-p no:prodcheck`` (median of 3 runs each).
2. build_report + JSON/Markdown/HTML rendering for N tests x 3 evidence records (median of 5).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pytest_prodcheck.checklist import CHECKLIST, TestRecord
from pytest_prodcheck.evidence import Evidence
from pytest_prodcheck.report import RunMeta, build_report, render_html, render_json, render_markdown

N = 2000
SUITE = """
import pytest
IDS = {ids!r}

@pytest.mark.parametrize("n", range({n}))
def test_linked(n, request, prodcheck_evidence):
    request.applymarker(pytest.mark.checklist(IDS[n % len(IDS)]))
    for k in range(3):
        prodcheck_evidence.record(f"m{{k}}", f"{{n}} ms", "< 1000 ms", passed=True)
"""


NO_PLUGIN_CONFTEST = """
import pytest
from pytest_prodcheck.evidence import EvidenceRecorder

@pytest.fixture
def prodcheck_evidence():
    return EvidenceRecorder()
"""


def run_suite(extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        ids = [i.id for i in CHECKLIST if i.automated]
        (Path(tmp) / "test_gen.py").write_text(SUITE.format(ids=ids, n=N))
        if "no:prodcheck" in extra:  # same evidence work, no plugin hooks/report
            (Path(tmp) / "conftest.py").write_text(NO_PLUGIN_CONFTEST)
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:locust",
                "-p",
                "no:cacheprovider",
                *extra,
            ],
            cwd=tmp,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start


def main() -> None:
    with_plugin = statistics.median(run_suite([]) for _ in range(3))
    without = statistics.median(run_suite(["-p", "no:prodcheck"]) for _ in range(3))
    ids = [i.id for i in CHECKLIST if i.automated]
    tests: dict[str, list[TestRecord]] = {}
    evidence: dict[str, list[Evidence]] = {}
    for n in range(N):
        item = ids[n % len(ids)]
        tests.setdefault(item, []).append(TestRecord(f"t.py::t[{n}]", "passed", 0.01))
        evidence.setdefault(item, []).extend(
            Evidence(f"m{k}", "pass", f"{n} ms", "< 1000 ms") for k in range(3)
        )
    now = datetime.now(UTC)
    meta = RunMeta("local", now, now, "pytest")
    timings = []
    sizes = {}
    for _ in range(5):
        start = time.perf_counter()
        report = build_report(meta, tests, evidence, [], [])
        sizes = {
            "json": len(render_json(report)),
            "md": len(render_markdown(report)),
            "html": len(render_html(report)),
        }
        timings.append(time.perf_counter() - start)
    print(f"| measure (N = {N} tests, 3 evidence each) | value |")
    print("|---|---|")
    print(f"| suite wall time with plugin (median of 3) | {with_plugin:.2f} s |")
    print(f"| suite wall time with -p no:prodcheck (median of 3) | {without:.2f} s |")
    print(f"| plugin overhead per test | {(with_plugin - without) / N * 1000:.2f} ms |")
    print(
        f"| build + render all three reports (median of 5) | {statistics.median(timings):.3f} s |"
    )
    print(
        f"| report sizes json / md / html | {sizes['json'] // 1024} / {sizes['md'] // 1024} / {sizes['html'] // 1024} KiB |"
    )


if __name__ == "__main__":
    main()
