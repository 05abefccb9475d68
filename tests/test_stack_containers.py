"""stack/containers.py + docker/: skip reasons, errors, render.py, the compose file's references.

The docker target itself runs in tests/test_docker_target.py (a real engine and real images).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pytest_prodcheck.core.errors import ConfigError
from pytest_prodcheck.stack import containers
from pytest_prodcheck.stack.containers import DockerTargetUnavailable, docker_unavailable_reason
from pytest_prodcheck.stack.endpoints import MissingEndpoint
from pytest_prodcheck.stack.provider import open_stack

ROOT = Path(__file__).resolve().parents[1]
PASSWORDS = {
    "POSTGRES_PASSWORD": "su-secret-123456",
    "APP_DB_PASSWORD": "app-secret-123456",
    "PGBOUNCER_ADMIN_PASSWORD": "adm-secret-123456",
}


def test_provider_does_not_import_the_docker_sdk_unless_selected() -> None:
    code = (
        "import sys\n"
        "from pytest_prodcheck.stack.provider import open_stack\n"
        "from pytest_prodcheck.stack import local, external\n"
        "import pytest_prodcheck.config\n"
        "import pytest_prodcheck.stack.containers\n"
        "assert 'docker' not in sys.modules, 'the docker SDK was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_docker_unavailable_is_a_skip_and_exit_2() -> None:
    assert issubclass(DockerTargetUnavailable, MissingEndpoint)
    assert issubclass(DockerTargetUnavailable, ConfigError)
    assert DockerTargetUnavailable.exit_code == 2


def test_skip_reason_names_the_engine_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    reason = docker_unavailable_reason()
    assert reason is not None
    assert reason.startswith(f"no Docker engine answers at unix://{tmp_path}/docker.sock")
    assert "unset DOCKER_HOST" in reason
    monkeypatch.setenv("DOCKER_HOST", "ssh://example")
    assert "not supported" in (docker_unavailable_reason() or "")


def test_an_explicit_docker_host_that_does_not_answer_is_not_replaced(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")

    class Settings:
        target = "docker"

    with (
        pytest.raises(DockerTargetUnavailable, match="no Docker engine answers") as info,
        open_stack(Settings()),
    ):
        pass
    assert "unset DOCKER_HOST so that prodcheck starts a private one" in str(info.value)
    assert "\n" not in str(info.value)


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


def _render(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    full = {**os.environ, **PASSWORDS} if env is None else env
    out = tmp_path / "rendered"
    return out, subprocess.run(
        [sys.executable, "docker/render.py", "--domain", "example.com", "--out", str(out), *args],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
    )


def test_render_script_writes_the_production_configs(tmp_path: Path) -> None:
    out, res = _render(tmp_path, "--rate-limit-exempt", "192.0.2.7")
    assert res.returncode == 0, res.stderr
    nginx = (out / "nginx.conf").read_text()
    assert "listen 443 ssl http2;" in nginx and "return 301 https://$host$request_uri;" in nginx
    assert (
        "server_name example.com www.example.com api.example.com monitoring.example.com;" in nginx
    )
    # docker's own ranges are never allowed to monitoring: behind docker-proxy that is everyone
    assert "172.16.0.0/12" not in nginx and "allow 10.0.0.0/8;" in nginx
    assert "192.0.2.7 1;" in nginx  # the rate-limit allowlist (e.g. a load generator)
    pgb = (out / "pgbouncer" / "pgbouncer.ini").read_text()
    assert "pool_mode = transaction" in pgb and "max_client_conn = 1000" in pgb
    assert "ecommerce = host=postgres port=5432 dbname=ecommerce" in pgb
    every = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    for secret in PASSWORDS.values():
        assert secret not in every
    userlist = out / "pgbouncer" / "userlist.txt"
    assert userlist.stat().st_mode & 0o777 == 0o600
    if os.geteuid() == 0:
        assert userlist.stat().st_uid == 999  # PgBouncer's user in the image
    assert "SCRAM-SHA-256$4096:" in (out / "initdb" / "10-roles.sql").read_text()


def test_render_script_errors_are_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if "PASSWORD" not in k}
    _out, res = _render(tmp_path, env=env)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "POSTGRES_PASSWORD" in res.stderr
    _out, res = _render(tmp_path, "--rate-limit-exempt", "not-an-ip")
    assert res.returncode == 2 and "--rate-limit-exempt 'not-an-ip'" in res.stderr
    res = subprocess.run(
        [sys.executable, "docker/render.py", "--domain", "not a domain", "--out", str(tmp_path)],
        cwd=ROOT,
        env={**env, **PASSWORDS},
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "expected a DNS name" in res.stderr


def test_compose_file_references_what_render_and_docker_provide() -> None:
    compose = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "pgbouncer", "app", "migrate", "nginx", "certbot"} <= set(services)
    for name in ("pgbouncer", "nginx", "app"):
        build = services[name]["build"]
        assert build["context"] == ".." and (ROOT / build["dockerfile"]).exists()
        assert services[name]["image"].startswith("${")  # the name is a setting
    mounts = " ".join(v for s in services.values() for v in s.get("volumes", []))
    for rendered in ("/nginx.conf", "/pgbouncer:/etc/pgbouncer", "/initdb"):
        assert "${PRODCHECK_RENDERED:-./rendered}" + rendered in mounts
    assert services["pgbouncer"]["ports"] == ["${PGBOUNCER_PUBLISH:-127.0.0.1:6432}:6432"]
    # the app fills the static volume nginx serves (an empty volume would 404 every asset)
    assert any(v.startswith("static:") for v in services["app"]["volumes"])
    assert containers.DOCKER_DIR == ROOT / "docker"


def test_every_service_image_has_its_dockerfile() -> None:
    from pytest_prodcheck.dockerhost.images import SPECS

    for spec in SPECS.values():
        text = (ROOT / spec.dockerfile).read_text()
        assert "ARG BASE=" in text and "FROM ${BASE}" in text, spec.dockerfile
        for rel in spec.files:
            assert (ROOT / rel).exists(), rel
