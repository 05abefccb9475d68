"""The guide's compose stack (docker/compose.yml) up with docker-compose, judged as an external
target (--prodcheck-config with url + resolve + CA + PgBouncer DSNs): GO on the smoke items."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.dockerhost.engine import Engine
from pytest_prodcheck.dockerhost.errors import DockerUnavailable
from pytest_prodcheck.dockerhost.images import ensure_images
from pytest_prodcheck.stack.compose import ComposeStack
from tests._docker_env import docker_engine_or_skip, labelled

pytestmark = [pytest.mark.xdist_group("docker")]
ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("postgres", "pgbouncer", "nginx", "app")


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    with docker_engine_or_skip() as engine:
        yield engine


@pytest.fixture(scope="module")
def compose_images(docker_engine: Engine) -> dict[str, str]:
    found = ensure_images(docker_engine.client(), services=SERVICES, progress=print)
    return {k: v.ref for k, v in found.items()}


def test_compose_stack_is_go_as_an_external_target(
    docker_engine: Engine, compose_images: dict[str, str], tmp_path: Path
) -> None:
    client = docker_engine.client()
    stack = ComposeStack(docker_engine, compose_images, progress=print)
    with stack as target:
        config = tmp_path / "prodcheck.toml"
        config.write_text(target.settings_toml())
        assert "password" not in config.read_text().lower()  # DSNs come from the environment
        res = subprocess.run(
            [sys.executable, "-m", "pytest", "suites", "-m", "smoke", "-q", "-p",
             "no:cacheprovider", "--prodcheck-config", str(config), "--prodcheck-report-dir",
             str(tmp_path / "report"), "--prodcheck-load-duration", "10", "-rs"],
            cwd=ROOT, env={**os.environ, **target.env()}, capture_output=True, text=True,
            timeout=900,
        )  # fmt: skip
        assert res.returncode == 0, res.stdout[-4000:]
        running = labelled(client, stack.run_id)
        assert len([r for r in running if r.startswith("container ")]) == 4, running
    report = json.loads((tmp_path / "report" / "checklist.json").read_text())
    assert report["verdict"] == "GO"
    statuses = {i["id"]: i["status"] for i in report["items"]}
    for item in ("security.https-only", "predeploy.security-headers", "performance.gzip",
                 "performance.pgbouncer", "testing.smoke", "predeploy.ssl-certificates",
                 "security.default-passwords"):  # fmt: skip
        assert statuses[item] == "passed", (item, statuses[item])
    assert report["run"]["target"] == "external"
    assert labelled(client, stack.run_id) == []  # down -v removed containers, network, volumes


def test_a_taken_port_is_one_line_and_leaves_nothing(
    docker_engine: Engine, compose_images: dict[str, str]
) -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.4", 443))
        squatter.listen()
        stack = ComposeStack(docker_engine, compose_images, public_addr="127.0.0.4")
        with pytest.raises(DockerUnavailable) as info:
            stack.up()
    message = str(info.value)
    assert message.startswith("port 127.0.0.4:443 is already taken"), message
    assert "\n" not in message
    assert labelled(docker_engine.client(), stack.run_id) == []
