"""Cleanup drills on the docker target: nothing of a run is left after success, a failure,
Ctrl-C and SIGTERM; a SIGKILLed run's containers/networks are removed by the next run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_prodcheck.dockerhost.engine import Engine
from pytest_prodcheck.dockerhost.errors import DockerUnavailable
from pytest_prodcheck.dockerhost.images import ensure_images
from pytest_prodcheck.dockerhost.settings import DockerSettings
from pytest_prodcheck.stack.containers import DockerStack
from tests._docker_env import docker_engine_or_skip, labelled

pytestmark = [pytest.mark.xdist_group("docker")]
ROOT = Path(__file__).resolve().parents[1]
HOLD = (
    "import time\n"
    "from pytest_prodcheck.stack.containers import DockerStack\n"
    "with DockerStack(pebble=False) as ep:\n"
    "    print('ready', ep.extras['docker_run'], ep.extras['workdir'], flush=True)\n"
    "    time.sleep(600)\n"
)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    with docker_engine_or_skip() as engine:
        yield engine


def _hold_stack(engine: Engine) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD], cwd=ROOT, env={**os.environ, "DOCKER_HOST": engine.host},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line or line[0] != "ready":
        proc.kill()
        pytest.fail(f"the stack did not start: {proc.stderr.read() if proc.stderr else ''}")
    return proc, line[1], line[2]


def test_nothing_is_left_after_success(docker_engine: Engine) -> None:
    stack = DockerStack(pebble=False)
    with stack as ep:
        workdir = Path(ep.extras["workdir"])
        assert labelled(docker_engine.client(), stack.run_id)
    assert labelled(docker_engine.client(), stack.run_id) == []
    assert not workdir.exists()


def test_nothing_is_left_after_a_failed_start(docker_engine: Engine) -> None:
    # an "app" image that cannot run the shop: it exits while PostgreSQL & co. already run
    refs = ensure_images(docker_engine.client(), services=["pgbouncer"])
    broken = SimpleNamespace(docker=DockerSettings(app_image=refs["pgbouncer"].ref))
    stack = DockerStack(broken, pebble=False, timeout=30)
    with pytest.raises(
        DockerUnavailable, match=r"prodcheck/pgbouncer.*\"python\": executable file not found"
    ):
        stack.start()
    assert stack.run_id and labelled(docker_engine.client(), stack.run_id) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_nothing_is_left_after_a_signal(docker_engine: Engine, sig: signal.Signals) -> None:
    proc, run_id, workdir = _hold_stack(docker_engine)
    assert labelled(docker_engine.client(), run_id)
    proc.send_signal(sig)
    proc.wait(60)
    assert labelled(docker_engine.client(), run_id) == []
    assert not Path(workdir).exists()


def test_a_sigkilled_runs_leftovers_are_reaped_by_the_next_run(docker_engine: Engine) -> None:
    proc, run_id, _workdir = _hold_stack(docker_engine)
    proc.kill()
    proc.wait(30)
    left = labelled(docker_engine.client(), run_id)
    assert left, "a SIGKILLed run cannot clean up: its containers are still there"
    res = subprocess.run(
        [sys.executable, "-m", "pytest_prodcheck.cli", "docker", "reap"],
        env={**os.environ, "DOCKER_HOST": docker_engine.host}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert f"of dead run {run_id}" in res.stdout
    assert labelled(docker_engine.client(), run_id) == []
