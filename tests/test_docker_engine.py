"""dockerhost/engine.py + `prodcheck docker up/down/status`: a private engine started and stopped
for real (its own socket, exec root and data root), a user's engine left alone, one-line errors."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.dockerhost import engine as eng
from tests._docker_env import docker_engine_or_skip, docker_expected

pytestmark = [pytest.mark.xdist_group("docker")]
PRODCHECK = [sys.executable, "-m", "pytest_prodcheck.cli"]


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[eng.Engine]:
    with docker_engine_or_skip() as engine:
        yield engine


@pytest.fixture
def isolated(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a second private engine: its own run dir and data root, no DOCKER_HOST."""
    run_dir = Path(f"/run/prodcheck-docker-t{secrets.token_hex(3)}")
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env.update(PRODCHECK_DOCKER_RUN=str(run_dir), PRODCHECK_DOCKER_DATA_ROOT=str(data))
    yield env
    pid_file = run_dir / "dockerd.pid"
    if pid_file.exists():  # never leave an engine behind, whatever the test did
        subprocess.run([*PRODCHECK, "docker", "down"], env=env, capture_output=True, timeout=60)
    # dockerd bind-mounts its data root onto itself (private propagation) and leaves it mounted
    subprocess.run(["umount", "-l", str(data)], capture_output=True)
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)


def _dockerd_alive(run_dir: str) -> bool:
    out = subprocess.run(["pgrep", "-f", f"dockerd.*{run_dir}/dockerd.pid"], capture_output=True)
    return out.returncode == 0


def test_ping_answers_for_the_session_engine(docker_engine: eng.Engine) -> None:
    assert eng.ping(docker_engine.host) is None
    assert docker_engine.client().ping()
    with eng.engine_session() as again:  # one engine per process, shared
        assert again is docker_engine


def test_ping_reasons() -> None:
    assert "not supported" in (eng.ping("ssh://host") or "")
    assert (eng.ping("unix:///nonexistent/docker.sock") or "").startswith(
        "no Docker engine answers at unix:///nonexistent/docker.sock"
    )


@pytest.mark.skipif(not docker_expected(), reason="needs root and dockerd")
def test_docker_up_runs_a_private_engine_until_sigterm(isolated: dict[str, str]) -> None:
    run_dir = isolated["PRODCHECK_DOCKER_RUN"]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [*PRODCHECK, "docker", "up"],
        env=isolated,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        up_s = time.monotonic() - t0
        assert line == f"export DOCKER_HOST=unix://{run_dir}/docker.sock", proc.stderr
        assert eng.ping(line.split("=", 1)[1]) is None
        assert up_s < 30, f"the private engine took {up_s:.1f} s"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not _dockerd_alive(run_dir), "dockerd outlived `prodcheck docker up`"
    assert eng.ping(f"unix://{run_dir}/docker.sock") is not None


@pytest.mark.skipif(not docker_expected(), reason="needs root and dockerd")
def test_docker_up_detach_then_down(isolated: dict[str, str]) -> None:
    run_dir = isolated["PRODCHECK_DOCKER_RUN"]
    res = subprocess.run(
        [*PRODCHECK, "docker", "up", "--detach"], env=isolated, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "prodcheck docker down" in res.stderr
    assert _dockerd_alive(run_dir)
    # an engine that answers is used as it is
    again = subprocess.run([*PRODCHECK, "docker", "up"], env=isolated, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert again.returncode == 0 and "already answers" in again.stderr
    down = subprocess.run([*PRODCHECK, "docker", "down"], env=isolated, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert down.returncode == 0 and "stopped the private engine" in down.stdout
    assert not _dockerd_alive(run_dir)


def test_a_users_engine_is_never_stopped(docker_engine: eng.Engine) -> None:
    env = {**os.environ, "DOCKER_HOST": docker_engine.host}
    res = subprocess.run([*PRODCHECK, "docker", "up"], env=env, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert res.returncode == 0 and "used as it is" in res.stderr
    assert eng.ping(docker_engine.host) is None


def test_no_engine_and_no_dockerd_is_one_line_exit_2(isolated: dict[str, str]) -> None:
    env = {**isolated, "PRODCHECK_DOCKERD": "/nonexistent/dockerd"}
    res = subprocess.run([*PRODCHECK, "docker", "up"], env=env, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0, res.stderr
    assert "dockerd is not installed: run scripts/bootstrap as root" in res.stderr


def test_no_engine_and_not_root_is_one_line_exit_2(isolated: dict[str, str]) -> None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root to drop to nobody")
    res = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *PRODCHECK,
         "docker", "up"],
        env={**isolated, "HOME": "/tmp", "PRODCHECK_RUN_ROOT": "/tmp/prodcheck-run-nobody"},
        capture_output=True, text=True, timeout=60, cwd="/",
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().count("\n") == 0, res.stderr
    assert "needs root" in res.stderr


def test_status_without_an_engine_is_one_line_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/nothing.sock"}
    res = subprocess.run([*PRODCHECK, "docker", "status"], env=env, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0
    assert f"no Docker engine answers at unix://{tmp_path}/nothing.sock" in res.stderr
