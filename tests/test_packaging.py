"""The wheel carries everything a user of ``pip install pytest-prodcheck`` needs: the product
suite (``pytest --pyargs pytest_prodcheck.suites``), templates, the shop's schema and static files."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return next(out.glob("pytest_prodcheck-*.whl"))


def test_wheel_contains_suite_templates_and_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for suite in (REPO / "suites").glob("*.py"):
        assert f"pytest_prodcheck/suites/{suite.name}" in names
    for data in ("conf/nginx.conf.j2", "conf/pgbouncer.ini.j2", "monitoring/alerts.yml.j2",
                 "shop/schema.sql", "shop/static/app.css", "load/locustfile.py"):  # fmt: skip
        assert f"pytest_prodcheck/{data}" in names


def test_installed_suite_collects_with_pyargs(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "pytest_prodcheck.suites", "--collect-only",
         "-q", "-p", "no:cacheprovider", "-p", "no:locust"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert str(target) in run.stdout or "pytest_prodcheck/suites" in run.stdout
    collected = [ln for ln in run.stdout.splitlines() if "::" in ln]
    assert len(collected) >= 60
