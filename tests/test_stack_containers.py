"""stack/containers.py + docker/: skip reason without an engine; the compose files render."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pytest_prodcheck.config import Settings
from pytest_prodcheck.stack import containers
from pytest_prodcheck.stack.containers import (
    DockerStack,
    DockerUnavailable,
    docker_unavailable_reason,
)
from pytest_prodcheck.stack.provider import open_stack

ROOT = Path(__file__).resolve().parents[1]


def test_provider_does_not_import_testcontainers_unless_selected() -> None:
    code = (
        "import sys\n"
        "from pytest_prodcheck.stack.provider import open_stack\n"
        "from pytest_prodcheck.stack import local, external\n"
        "assert 'testcontainers' not in sys.modules, 'imported'\n"
        "import pytest_prodcheck.stack.containers\n"
        "assert 'testcontainers' not in sys.modules, 'imported by containers'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_skip_reason_names_the_engine_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    reason = docker_unavailable_reason()
    assert reason is not None
    assert reason.startswith(f"no Docker engine answers at unix://{tmp_path}/docker.sock")
    monkeypatch.setenv("DOCKER_HOST", "ssh://example")
    assert "not supported" in (docker_unavailable_reason() or "")


def test_docker_target_raises_docker_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")

    settings = Settings(target="docker")
    with pytest.raises(DockerUnavailable, match="no Docker engine answers"), open_stack(settings):
        pass
    assert DockerUnavailable.exit_code == 3


@pytest.mark.skipif(
    docker_unavailable_reason() is not None, reason=str(docker_unavailable_reason())
)
def test_docker_stack_starts() -> None:  # pragma: no cover - needs a Docker engine
    with DockerStack() as ep:
        assert ep.target == "docker" and ep.site_url


def test_render_script_writes_the_production_configs(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        POSTGRES_PASSWORD="su-secret",
        APP_DB_PASSWORD="app-secret",
        PGBOUNCER_ADMIN_PASSWORD="adm-secret",
    )
    out = tmp_path / "rendered"
    res = subprocess.run(
        [sys.executable, "docker/render.py", "--domain", "example.com", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    nginx = (out / "nginx.conf").read_text()
    assert "listen 443 ssl http2;" in nginx and "return 301 https://$host$request_uri;" in nginx
    assert (
        "server_name example.com www.example.com api.example.com monitoring.example.com;" in nginx
    )
    pgb = (out / "pgbouncer.ini").read_text()
    assert "pool_mode = transaction" in pgb and "max_client_conn = 1000" in pgb
    assert "ecommerce = host=postgres port=5432 dbname=ecommerce" in pgb
    every = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "app-secret" not in every and "adm-secret" not in every and "su-secret" not in every
    assert (out / "userlist.txt").stat().st_mode & 0o777 == 0o600
    assert "SCRAM-SHA-256$4096:" in (out / "initdb" / "10-roles.sql").read_text()


def test_render_script_errors_are_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if "PASSWORD" not in k}
    res = subprocess.run(
        [sys.executable, "docker/render.py", "--domain", "example.com", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "POSTGRES_PASSWORD" in res.stderr
    res = subprocess.run(
        [sys.executable, "docker/render.py", "--domain", "not a domain", "--out", str(tmp_path)],
        cwd=ROOT,
        env={
            **env,
            "POSTGRES_PASSWORD": "a",
            "APP_DB_PASSWORD": "b",
            "PGBOUNCER_ADMIN_PASSWORD": "c",
        },
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "expected a DNS name" in res.stderr


def test_compose_file_references_what_render_and_docker_provide() -> None:
    compose = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "pgbouncer", "app", "nginx", "certbot"} <= set(services)
    for name in ("pgbouncer", "nginx"):
        assert (ROOT / "docker" / services[name]["build"] / "Dockerfile").exists()
    assert (ROOT / services["app"]["build"]["dockerfile"]).exists()
    mounts = " ".join(v for s in services.values() for v in s.get("volumes", []))
    for rendered in (
        "rendered/nginx.conf",
        "rendered/pgbouncer.ini",
        "rendered/userlist.txt",
        "rendered/initdb",
    ):
        assert rendered in mounts
    assert services["pgbouncer"]["ports"] == ["127.0.0.1:6432:6432"]
    assert containers.DOCKER_DIR == ROOT / "docker"


def test_docker_target_skips_under_the_plugin(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        """
        def test_needs_stack(prodcheck_stack):
            raise AssertionError("must not run")
        """
    )
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    result = pytester.runpytest("--prodcheck-target", "docker", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no Docker engine answers at unix://*docker.sock*"])
