"""dockerhost/images.py: every image obtained without a registry, reuse by input hash, a failing
build names its step, a configured image that does not exist is one line (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_prodcheck.dockerhost import images
from pytest_prodcheck.dockerhost.engine import Engine
from pytest_prodcheck.dockerhost.errors import DockerUnavailable
from pytest_prodcheck.dockerhost.settings import DockerSettings
from tests._docker_env import docker_engine_or_skip

pytestmark = [pytest.mark.xdist_group("docker")]


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    with docker_engine_or_skip() as engine:
        yield engine


def test_every_image_is_obtained_and_then_reused(docker_engine: Engine) -> None:
    client = docker_engine.client()
    lines: list[str] = []
    first = images.ensure_images(client, progress=lines.append)  # cold: builds (minutes)
    assert set(images.SERVICES) <= set(first)
    for image in first.values():
        assert client.images.get(image.ref)
    t0 = time.monotonic()
    again = images.ensure_images(client)
    warm_s = time.monotonic() - t0
    assert {k: v.ref for k, v in again.items()} == {k: v.ref for k, v in first.items()}
    assert all(v.source in ("cached", "present") for v in again.values())
    assert warm_s < 10, f"warm image check took {warm_s:.1f} s"
    built = [v for v in first.values() if v.source == "built"]
    if built:  # a cold run showed its build steps
        assert any(": Step " in line for line in lines)


def test_inputs_hash_follows_the_inputs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "docker" / "x").mkdir(parents=True)
    dockerfile = tmp_path / "docker" / "x" / "Dockerfile"
    dockerfile.write_text("ARG BASE\nFROM ${BASE}\nCOPY docker/x/f /f\n")
    (tmp_path / "docker" / "x" / "f").write_text("one")
    monkeypatch.setattr(images, "ROOT", tmp_path)
    spec = images.BuildSpec("x", "docker/x/Dockerfile", ("docker/x/f",))
    h1 = images.inputs_hash(spec, "sha256:base1")
    assert images.inputs_hash(spec, "sha256:base1") == h1
    assert images.inputs_hash(spec, "sha256:base2") != h1  # a new base rebuilds
    (tmp_path / "docker" / "x" / "f").write_text("two")
    assert images.inputs_hash(spec, "sha256:base1") != h1  # so does a changed context file


def test_a_failing_build_names_its_step(
    docker_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "docker" / "broken").mkdir(parents=True)
    (tmp_path / "docker" / "broken" / "Dockerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nRUN echo fine\nRUN echo 'about to fail' && false\n"
    )
    monkeypatch.setattr(images, "ROOT", tmp_path)
    client = docker_engine.client()
    base = images.resolve_base(client, DockerSettings(), print)
    spec = images.BuildSpec("broken-test", "docker/broken/Dockerfile", ())
    with pytest.raises(DockerUnavailable) as info:
        images.build_image(client, spec, base.ref)
    message = str(info.value)
    assert "building the broken-test image failed at Step 4/5 : RUN echo 'about to fail'" in message
    assert "returned a non-zero code: 1" in message and "full log:" in message
    assert "\n" not in message
    assert not client.images.list(name="prodcheck/broken-test")


def test_a_configured_image_that_does_not_exist_is_one_line(docker_engine: Engine) -> None:
    settings = DockerSettings(postgres_image="prodcheck-test/no-such-image:1", pull_timeout=10)
    with pytest.raises(DockerUnavailable) as info:
        images.ensure_images(docker_engine.client(), settings, ["postgres"])
    message = str(info.value)
    assert message.startswith("image 'prodcheck-test/no-such-image:1' ([docker] postgres_image)")
    assert 'or to "" to build it' in message and "\n" not in message


def test_prodcheck_docker_images_exit_codes(docker_engine: Engine, tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": docker_engine.host}
    cli = [sys.executable, "-m", "pytest_prodcheck.cli", "docker", "images"]
    ok = subprocess.run([*cli, "--service", "pgbouncer"], env=env, capture_output=True,
                        text=True, timeout=900)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("base ") or "pgbouncer  prodcheck/pgbouncer:" in ok.stdout
    config = tmp_path / "prodcheck.toml"
    config.write_text('[docker]\nnginx_image = "prodcheck-test/missing:2"\npull_timeout = 5\n')
    bad = subprocess.run([*cli, "--config", str(config), "--service", "nginx"], env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "[docker] nginx_image" in bad.stderr
