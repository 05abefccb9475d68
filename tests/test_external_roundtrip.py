"""The external target end to end: `prodcheck stack up --json` serves a deployment, a
prodcheck.toml is written from its JSON (as a script driving the stack would), and the product
suite checks it as an external target — through the external provider, not the local one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, object]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest_prodcheck.cli", "stack", "up", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "prodcheck stack up printed nothing"
        yield json.loads(line)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(30) == 0


def _toml(d: dict[str, object]) -> str:
    q = json.dumps
    extras = d["extras"]
    assert isinstance(extras, dict)
    return "\n".join([
        f"url = {q(d['site_url'])}",
        f"http_url = {q(d['http_url'])}",
        f"resolve = {q(d['resolve'])}",
        f"ca_bundle = {q(d['ca_bundle'])}",
        "[site]",
        *(f"{k} = {q(d[k])}" for k in ("apex", "www", "api", "monitoring")),
        "[database]",
        f"dsn = {q(d['postgres_dsn'])}",
        f"ai_dsn = {q(d['postgres_ai_dsn'])}",
        f"admin_dsn = {q(d['postgres_admin_dsn'])}",
        "[pgbouncer]",
        f"dsn = {q(d['pgbouncer_dsn'])}",
        f"admin_dsn = {q(d['pgbouncer_admin_dsn'])}",
        "prepared_statements_disabled = true",
        "[monitoring]",
        *(f"{k} = {q(d[k])}" for k in ("prometheus_url", "alertmanager_url", "metrics_url", "uptime_url")),
        "[security]",
        f"env_file = {q(extras['env_file'])}",
        'public_address = "127.0.0.1"',
    ]) + "\n"  # fmt: skip


def test_suite_checks_a_served_stack_as_an_external_target(
    served: dict[str, object], tmp_path: Path
) -> None:
    config = tmp_path / "prodcheck.toml"
    config.write_text(_toml(served))
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(REPO / "suites"), "-q", "-p", "no:cacheprovider",
         "-m", "smoke and (tls or http or pooling or security or monitoring)",
         "--prodcheck-config", str(config), "--prodcheck-report-dir", str(tmp_path / "r")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:]
    report = json.loads((tmp_path / "r" / "checklist.json").read_text())
    assert report["run"]["target"] == "external"
    assert report["verdict"] == "GO"
    passed = {i["id"] for i in report["items"] if i["status"] == "passed"}
    assert {"security.https-only", "performance.pgbouncer", "monitoring.prometheus"} <= passed
    # the DSN passwords the JSON carried never reach the report
    text = (tmp_path / "r" / "checklist.json").read_text()
    for dsn in (served["postgres_dsn"], served["pgbouncer_admin_dsn"]):
        password = str(dsn).split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        assert password not in text
    assert time.monotonic() - started < 300
